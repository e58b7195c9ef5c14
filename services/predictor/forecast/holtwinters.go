package forecast

import (
	"fmt"
	"math"
)

// holtWinters is additive Holt–Winters, ETS(A,A,A).
type holtWinters struct {
	period             int
	alpha, beta, gamma float64
	level, trend       float64
	season             []float64 // indexed by absolute time mod period
	n                  int
	sigma              float64
	fitted             bool
}

var _ Forecaster = (*holtWinters)(nil)

// NewHoltWinters returns additive Holt–Winters with the given seasonal period in steps
// (Holt 1957; Winters 1960; Hyndman & Athanasopoulos, fpp3 §8.3). Smoothing parameters are
// chosen at Fit by grid search on one-step-ahead squared error. With fewer than two full
// periods of data, or period < 2, it degrades to Holt's linear trend.
func NewHoltWinters(period int) Forecaster { return &holtWinters{period: period} }

// Name implements Forecaster.
func (f *holtWinters) Name() string { return fmt.Sprintf("holt-winters(%d)", f.period) }

// Fit implements Forecaster.
func (f *holtWinters) Fit(s Series) error {
	y := s.Values
	if len(y) < 4 {
		return fmt.Errorf("holt-winters needs 4 points, got %d: %w", len(y), ErrShortSeries)
	}
	m := f.period
	if m < 2 || len(y) < 2*m {
		m = 1
	}
	grid := []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99}
	betas := []float64{0, 0.01, 0.05, 0.1, 0.2}
	gammas := []float64{0.05, 0.1, 0.2, 0.3, 0.5}
	if m == 1 {
		gammas = []float64{0}
	}
	best := math.Inf(1)
	for _, a := range grid {
		for _, b := range betas {
			for _, g := range gammas {
				sse := f.run(y, m, a, b, g, false)
				if sse < best {
					best = sse
					f.alpha, f.beta, f.gamma = a, b, g
				}
			}
		}
	}
	sse := f.run(y, m, f.alpha, f.beta, f.gamma, true)
	f.sigma = math.Sqrt(sse / float64(len(y)))
	f.n = len(y)
	f.fitted = true
	if m == 1 {
		f.season = []float64{0}
	}
	return nil
}

// run filters y with the given parameters and returns the one-step squared error; with
// keep it stores the final state.
func (f *holtWinters) run(y []float64, m int, a, b, g float64, keep bool) float64 {
	var level, trend float64
	season := make([]float64, m)
	if m > 1 {
		var s1, s2 float64
		for i := range m {
			s1 += y[i]
			s2 += y[m+i]
		}
		s1 /= float64(m)
		s2 /= float64(m)
		level, trend = s1, (s2-s1)/float64(m)
		for i := range m {
			season[i] = y[i] - (s1 + trend*(float64(i)-float64(m-1)/2))
		}
		// The filter starts at t=m with the level at the end of the first period.
		level = s1 + trend*float64(m-1)/2
	} else {
		level, trend = y[0], y[1]-y[0]
	}
	start := m
	if m == 1 {
		start = 1
	}
	var sse float64
	for t := start; t < len(y); t++ {
		si := t % m
		yhat := level + trend + season[si]
		e := y[t] - yhat
		sse += e * e
		prev := level
		level = a*(y[t]-season[si]) + (1-a)*(level+trend)
		trend = b*(level-prev) + (1-b)*trend
		if m > 1 {
			season[si] = g*(y[t]-prev-trend) + (1-g)*season[si]
		}
	}
	if keep {
		f.level, f.trend, f.season = level, trend, season
	}
	return sse
}

// Forecast implements Forecaster.
func (f *holtWinters) Forecast(h int) (mean, lo, hi []float64) {
	if !f.fitted || h <= 0 {
		return nil, nil, nil
	}
	m := len(f.season)
	mean, lo, hi = make([]float64, h), make([]float64, h), make([]float64, h)
	var v float64 // cumulative variance multiplier, fpp3 Table 8.8 for ETS(A,A,A)
	for k := 1; k <= h; k++ {
		mean[k-1] = f.level + float64(k)*f.trend + f.season[(f.n+k-1)%m]
		if k > 1 {
			j := float64(k - 1)
			c := f.alpha + j*f.alpha*f.beta
			if m > 1 && (k-1)%m == 0 {
				c += f.gamma
			}
			v += c * c
		}
		w := z80 * f.sigma * math.Sqrt(1+v)
		lo[k-1], hi[k-1] = mean[k-1]-w, mean[k-1]+w
	}
	return mean, lo, hi
}
