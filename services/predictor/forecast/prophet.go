package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// prophetLike is y(t) = g(t) + s(t) + e: a piecewise-linear trend with fixed changepoints
// and Fourier seasonality, fitted as one ridge regression.
type prophetLike struct {
	periods      []float64
	order        int
	changepoints int
	// ridge weights the penalty on changepoint slope deltas, standing in for Prophet's
	// Laplace prior (changepoint_prior_scale): few, large trend changes are preferred to
	// many small ones that would chase noise.
	ridge float64

	beta  []float64
	cps   []float64
	n     int
	sigma float64
}

var _ Forecaster = (*prophetLike)(nil)

// NewProphetLike returns a Prophet-style additive model (Taylor & Letham 2018): trend with
// changepoints evenly spaced over the first 80% of the history, plus fourierOrder sine and
// cosine pairs for each seasonal period (in steps).
func NewProphetLike(periods []float64, fourierOrder int, changepoints int) Forecaster {
	return &prophetLike{periods: periods, order: max(fourierOrder, 0), changepoints: max(changepoints, 0), ridge: 1}
}

// Name implements Forecaster.
func (f *prophetLike) Name() string {
	return fmt.Sprintf("prophet-like(%v,k=%d,cp=%d)", f.periods, f.order, f.changepoints)
}

func (f *prophetLike) row(t float64, dst []float64) {
	dst[0], dst[1] = 1, t
	i := 2
	for _, c := range f.cps {
		dst[i] = max(0, t-c)
		i++
	}
	for _, p := range f.periods {
		for k := 1; k <= f.order; k++ {
			w := 2 * math.Pi * float64(k) * t / p
			dst[i], dst[i+1] = math.Sin(w), math.Cos(w)
			i += 2
		}
	}
}

// Fit implements Forecaster.
func (f *prophetLike) Fit(s Series) error {
	y := s.Values
	n := len(y)
	f.cps = f.cps[:0]
	for j := 1; j <= f.changepoints; j++ {
		f.cps = append(f.cps, 0.8*float64(n)*float64(j)/float64(f.changepoints+1))
	}
	p := 2 + len(f.cps) + 2*f.order*len(f.periods)
	if n < p+2 {
		return fmt.Errorf("prophet-like with %d parameters needs %d points, got %d: %w", p, p+2, n, ErrShortSeries)
	}
	x := mat.NewDense(n, p, nil)
	row := make([]float64, p)
	for t := range n {
		f.row(float64(t), row)
		x.SetRow(t, row)
	}
	var xtx mat.SymDense
	xtx.SymOuterK(1, x.T())
	scale := float64(n)
	for j := range f.cps {
		i := 2 + j
		xtx.SetSym(i, i, xtx.At(i, i)+f.ridge*scale)
	}
	// A tiny ridge on everything keeps the normal equations well posed when Fourier terms
	// alias (a period shorter than two steps, or several near-equal periods).
	for i := range p {
		xtx.SetSym(i, i, xtx.At(i, i)+1e-8*scale)
	}
	var xty mat.VecDense
	xty.MulVec(x.T(), mat.NewVecDense(n, append([]float64(nil), y...)))
	var chol mat.Cholesky
	if !chol.Factorize(&xtx) {
		return fmt.Errorf("prophet-like: normal equations not positive definite")
	}
	var beta mat.VecDense
	if err := chol.SolveVecTo(&beta, &xty); err != nil {
		return fmt.Errorf("prophet-like solve: %w", err)
	}
	f.beta = make([]float64, p)
	for i := range p {
		f.beta[i] = beta.AtVec(i)
	}
	var ss float64
	for t := range n {
		f.row(float64(t), row)
		e := y[t] - dot(row, f.beta)
		ss += e * e
	}
	f.n = n
	f.sigma = math.Sqrt(ss / float64(max(n-p, 1)))
	return nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Forecast implements Forecaster.
func (f *prophetLike) Forecast(h int) (mean, lo, hi []float64) {
	if f.beta == nil || h <= 0 {
		return nil, nil, nil
	}
	mean, lo, hi = make([]float64, h), make([]float64, h), make([]float64, h)
	row := make([]float64, len(f.beta))
	for k := range h {
		t := float64(f.n + k)
		f.row(t, row)
		mean[k] = dot(row, f.beta)
		// Prophet widens intervals by simulating future trend changes; growing the band
		// with the horizon relative to the history length approximates that.
		w := z80 * f.sigma * math.Sqrt(1+float64(k+1)/float64(f.n))
		lo[k], hi[k] = mean[k]-w, mean[k]+w
	}
	return mean, lo, hi
}
