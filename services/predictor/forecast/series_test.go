package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// synth builds a seeded synthetic series: level + slope·t + seasonal terms + noise, plus
// an optional random walk on the level (which only an adaptive model can follow).
func synth(n int, seed uint64, slope float64, periods []float64, amps []float64, noise, walk float64) Series {
	return synthShift(n, seed, slope, periods, amps, noise, walk, 0, 0)
}

// synthShift is synth with a level shift of size shift from step at onwards.
func synthShift(n int, seed uint64, slope float64, periods []float64, amps []float64, noise, walk float64, at int, shift float64) Series {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	v := make([]float64, n)
	lvl := 0.0
	for t := range n {
		lvl += walk * rng.NormFloat64()
		y := 20 + slope*float64(t) + lvl
		for i, p := range periods {
			y += amps[i] * math.Sin(2*math.Pi*float64(t)/p)
		}
		if at > 0 && t >= at {
			y += shift
		}
		v[t] = y + noise*rng.NormFloat64()
	}
	return Series{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Step: time.Hour, Values: v}
}

func mae(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += math.Abs(a[i] - b[i])
	}
	return s / float64(len(a))
}

func TestForecastersBeatSeasonalNaive(t *testing.T) {
	t.Parallel()
	const h = 48
	full := synth(24*14+h, 1, 0.02, []float64{24}, []float64{6}, 1.0, 0)
	train := Series{Start: full.Start, Step: full.Step, Values: full.Values[:len(full.Values)-h]}
	actual := full.Values[len(full.Values)-h:]

	naive := NewSeasonalNaive(24)
	require.NoError(t, naive.Fit(train))
	nm, _, _ := naive.Forecast(h)
	naiveErr := mae(nm, actual)

	tests := []struct {
		name string
		f    Forecaster
	}{
		{name: "holt-winters", f: NewHoltWinters(24)},
		{name: "prophet-like", f: NewProphetLike([]float64{24}, 3, 5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, tc.f.Fit(train))
			mean, lo, hi := tc.f.Forecast(h)
			require.Len(t, mean, h)
			e := mae(mean, actual)
			require.Less(t, e, naiveErr, "%s MAE %.3f vs seasonal naive %.3f", tc.f.Name(), e, naiveErr)
			inside := 0
			for i := range h {
				require.LessOrEqual(t, lo[i], mean[i])
				require.GreaterOrEqual(t, hi[i], mean[i])
				if actual[i] >= lo[i] && actual[i] <= hi[i] {
					inside++
				}
			}
			// An 80% interval should hold most of the truth on a well-specified series.
			require.Greater(t, float64(inside)/h, 0.6)
		})
	}
}

func TestSelectByBacktestPicksTheRightModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		series Series
		want   string
	}{
		{
			// Two seasonalities (daily and weekly): the Fourier model carries both, a
			// single-period Holt–Winters cannot.
			name:   "double seasonality",
			series: synth(24*7*5, 2, 0, []float64{24, 168}, []float64{4, 8}, 0.5, 0),
			want:   "prophet-like",
		},
		{
			// A level shift late in the history (a new tenant): a trend whose changepoints
			// stop at 80% of the history cannot follow it, exponential smoothing does.
			name:   "late level shift",
			series: synthShift(24*20, 3, 0, []float64{24}, []float64{3}, 1, 0, 24*14, 15),
			want:   "holt-winters",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cands := []Forecaster{NewHoltWinters(24), NewProphetLike([]float64{24, 168}, 3, 4)}
			best, errs, err := SelectByBacktest(tc.series, cands, 24, 4)
			require.NoError(t, err)
			require.Len(t, errs, 2)
			require.Contains(t, best.Name(), tc.want, "errors: %v", errs)
			mean, _, _ := best.Forecast(5)
			require.Len(t, mean, 5)
		})
	}
}

func TestSelectByBacktestErrors(t *testing.T) {
	t.Parallel()
	_, _, err := SelectByBacktest(Series{Values: make([]float64, 10)}, []Forecaster{NewHoltWinters(24)}, 24, 3)
	require.ErrorIs(t, err, ErrShortSeries)
	_, _, err = SelectByBacktest(Series{Values: make([]float64, 100)}, nil, 5, 2)
	require.Error(t, err)
}

func TestPoolTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mean, hi  []float64
		rule      TargetRule
		hot, warm int
	}{
		{name: "empty", rule: TargetRule{CoresPerVM: 4, HotSteps: 1, WarmSteps: 3}},
		{name: "flat", mean: []float64{8, 8, 8}, hi: []float64{12, 12, 12}, rule: TargetRule{CoresPerVM: 4, HotSteps: 1, WarmSteps: 3}, hot: 2, warm: 1},
		{name: "wave ahead is warmed, not hot", mean: []float64{2, 2, 16}, hi: []float64{3, 3, 20}, rule: TargetRule{CoresPerVM: 4, HotSteps: 2, WarmSteps: 3}, hot: 1, warm: 4},
		{name: "wave beyond warm horizon is left to cold", mean: []float64{2, 2, 2, 40}, hi: []float64{3, 3, 3, 50}, rule: TargetRule{CoresPerVM: 4, HotSteps: 1, WarmSteps: 2}, hot: 1, warm: 0},
		{name: "zero cores per VM means one", mean: []float64{3}, hi: []float64{3}, rule: TargetRule{HotSteps: 1, WarmSteps: 1}, hot: 3, warm: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hot, warm := PoolTargets(tc.mean, tc.hi, tc.rule)
			require.Equal(t, tc.hot, hot)
			require.Equal(t, tc.warm, warm)
		})
	}
}

func TestPlanPool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		s        Series
		wantErr  error
		minTotal int
	}{
		{name: "too short", s: Series{Step: time.Hour, Values: []float64{1, 2}}, wantErr: ErrShortSeries},
		{
			// Hourly busy cores: 20 at night, 60 by day, four weeks.
			name: "daily cycle", s: synth(24*28, 9, 0, []float64{24}, []float64{20}, 2, 0), minTotal: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hot, warm, model, err := PlanPool(tc.s, 6, TargetRule{CoresPerVM: 4, HotSteps: 1, WarmSteps: 6})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.NotContains(t, model, "naive", "a seasonal model beats the baseline on a clean daily cycle")
			require.GreaterOrEqual(t, hot+warm, tc.minTotal)
			// The targets cover the next six hours' upper band, and no more than its peak.
			peak := 0.0
			for _, v := range tc.s.Values[len(tc.s.Values)-24:] {
				peak = max(peak, v)
			}
			require.LessOrEqual(t, float64(hot+warm)*4, peak*1.5+8)
		})
	}
}
