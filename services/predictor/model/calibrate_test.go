package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// overconfident is a configuration whose raw band is far narrower than the data's spread:
// a tight prior (log-sd 0.05) weighted as a million observations, so the model's own
// residual quantiles cannot widen it. Only calibration can.
func overconfident() Config {
	cfg := DefaultConfig()
	cfg.PriorLogSigma = 0.05
	cfg.PriorStrength = 1e6
	return cfg
}

// coverage is the share of ys at or under their bounds.
func coverage(ys, bounds []float64) float64 {
	in := 0
	for i := range ys {
		if ys[i] <= bounds[i] {
			in++
		}
	}
	return float64(in) / float64(len(ys))
}

func TestConformalCalibrationCoversP90(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sigma   float64 // true log-sd of runtime
		drift   float64 // log-scale change of the true spread over the stream
		perRun  int     // tasks per run; 0 predicts with Model.Predict only
		minRaw  float64 // raw coverage must stay below this (the band is too narrow)
		lo, hi  float64 // calibrated P90 coverage over the second half
		p99Cov  float64 // calibrated P99 coverage over the second half, at least
		seedLow uint64
	}{
		{name: "history, stationary", sigma: 1, minRaw: 0.75, lo: 0.86, hi: 0.94, p99Cov: 0.97, seedLow: 1},
		{name: "history, spread doubles", sigma: 0.6, drift: math.Log(2), minRaw: 0.75, lo: 0.85, hi: 0.95, p99Cov: 0.96, seedLow: 2},
		{name: "runs with siblings", sigma: 1, perRun: 20, minRaw: 0.75, lo: 0.85, hi: 0.95, p99Cov: 0.96, seedLow: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(42, tt.seedLow))
			m := New(overconfident())
			const n = 2000
			var ys, raw, p90, p99 []float64
			var run *Run
			for i := range n {
				sd := tt.sigma * math.Exp(tt.drift*float64(i)/n)
				y := 30 * math.Exp(sd*rng.NormFloat64())
				o := Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: y}
				q := queryOf(o)
				var p Prediction
				var e est
				if tt.perRun == 0 {
					p, e = m.Predict(q), m.estimate(q)
				} else {
					if i%tt.perRun == 0 {
						if run != nil {
							run.Finish()
						}
						run = m.NewRun()
					}
					p, e = run.Predict(q), run.overlay(q, m.estimate(q), math.NaN())
					run.Observe(o)
				}
				m.Observe(o)
				if i >= n/2 {
					ys, raw, p90, p99 = append(ys, y), append(raw, e.prediction().P90), append(p90, p.P90), append(p99, p.P99)
				}
			}
			t.Logf("coverage raw P90 %.3f, calibrated P90 %.3f, P99 %.3f", coverage(ys, raw), coverage(ys, p90), coverage(ys, p99))
			require.Less(t, coverage(ys, raw), tt.minRaw, "raw band should under-cover")
			require.GreaterOrEqual(t, coverage(ys, p90), tt.lo)
			require.LessOrEqual(t, coverage(ys, p90), tt.hi)
			require.GreaterOrEqual(t, coverage(ys, p99), tt.p99Cov)
		})
	}
}

func TestCalibrationNarrowsAnOverwideBand(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.PriorLogSigma, cfg.PriorStrength = 2, 1e6 // raw band far too wide
	m := New(cfg)
	rng := rand.New(rand.NewPCG(7, 7))
	var ys, p90 []float64
	for i := range 1000 {
		o := Observation{Signature: "s", Family: "f", RuntimeSeconds: 10 * math.Exp(0.2*rng.NormFloat64())}
		p := m.Predict(queryOf(o))
		m.Observe(o)
		if i >= 500 {
			ys, p90 = append(ys, o.RuntimeSeconds), append(p90, p.P90)
		}
	}
	require.InDelta(t, 0.9, coverage(ys, p90), 0.05)
}

func TestCalibrationPersists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
	}{
		{name: "before calibration existed", json: `{"version":1,"config":{"window":256},"keys":{}}`},
		{name: "mismatched windows are dropped", json: `{"version":1,"config":{},"keys":{},"calib":{"x":{"s90":[1,2],"s99":[1],"next":0,"count":2}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var m Model
			require.NoError(t, json.Unmarshal([]byte(tt.json), &m))
			require.Equal(t, DefaultConfig().CalibrationWindow, m.Config().CalibrationWindow)
			q := Query{Signature: "s", Family: "f"}
			require.Equal(t, m.estimate(q).prediction(), m.Predict(q), "an uncalibrated model reports the raw band")
			m.Observe(Observation{Signature: "s", Family: "f", RuntimeSeconds: 3})
		})
	}

	m := New(overconfident())
	rng := rand.New(rand.NewPCG(1, 1))
	r := m.NewRun()
	for range 300 {
		o := Observation{Signature: "s", Family: "f", RuntimeSeconds: math.Exp(rng.NormFloat64())}
		r.Observe(o)
		m.Observe(o)
	}
	r.Finish()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var back Model
	require.NoError(t, json.Unmarshal(b, &back))
	q := Query{Signature: "s", Family: "f"}
	require.Equal(t, m.Predict(q), back.Predict(q))
	require.Equal(t, m.NewRun().Predict(q), back.NewRun().Predict(q))
	require.NotEqual(t, m.estimate(q).prediction(), m.Predict(q), "calibration must have moved the band")
	for _, c := range back.calib {
		require.LessOrEqual(t, len(c.S90), back.Config().CalibrationWindow)
	}
}

func TestConformalQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    float64
		a, b []float64
		want float64
		ok   bool
	}{
		{name: "too few for 0.9", p: 0.9, a: []float64{1, 2, 3}, ok: false},
		{name: "nine is the minimum for 0.9", p: 0.9, a: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, want: 9, ok: true},
		{name: "ceil((n+1)p)-th of merged", p: 0.9, a: []float64{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}, b: []float64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}, want: 19, ok: true},
		{name: "median", p: 0.5, a: []float64{1, 2}, b: []float64{3}, want: 2, ok: true},
		{name: "empty", p: 0.5, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := conformalQuantile(tt.p, tt.a, tt.b)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, tt.want, got)
			}
		})
	}
}

// TestKthIsTheMergedOrderStatistic checks the binary search against merging and sorting,
// on windows with ties, empty sides and every k (clamped at both ends).
func TestKthIsTheMergedOrderStatistic(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	for range 2000 {
		a := make([]float64, rng.IntN(12))
		b := make([]float64, rng.IntN(12))
		for i := range a {
			a[i] = float64(rng.IntN(8)) // few values: many ties
		}
		for i := range b {
			b[i] = float64(rng.IntN(8))
		}
		slices.Sort(a)
		slices.Sort(b)
		merged := slices.Sorted(slices.Values(append(slices.Clone(a), b...)))
		if len(merged) == 0 {
			continue
		}
		for k := -1; k <= len(merged)+1; k++ {
			want := merged[min(max(k, 1), len(merged))-1]
			require.Equal(t, want, kth(k, a, b), "k=%d a=%v b=%v", k, a, b)
		}
	}
}

func TestCalibratorWindowStaysSorted(t *testing.T) {
	t.Parallel()
	c := &calibrator{}
	rng := rand.New(rand.NewPCG(3, 3))
	for range 500 {
		v := math.Round(rng.NormFloat64() * 4) // ties exercise removal
		c.add(v, -v, 16)
	}
	require.Len(t, c.S90, 16)
	want := &calibrator{S90: c.S90, S99: c.S99}
	want.resort()
	require.Equal(t, want.sorted90, c.sorted90)
	require.Equal(t, want.sorted99, c.sorted99)
	require.EqualValues(t, 500, c.Count)
}

func TestACILevelsFollowMisses(t *testing.T) {
	t.Parallel()
	p := Prediction{P50: 1, P90: 2, P99: 4}
	tests := []struct {
		name   string
		y      float64
		steps  int
		want90 float64
		want99 float64
	}{
		{name: "a miss raises both levels by γ(1-α)", y: 5, steps: 1, want90: 0.005 * 0.9, want99: 0.005 * 0.99},
		{name: "a hit lowers them by γα", y: 1, steps: 1, want90: -0.005 * 0.1, want99: -0.005 * 0.01},
		{name: "misses saturate at level 1", y: 5, steps: 1000, want90: 0.1, want99: 0.01},
		{name: "hits saturate at level 0.5", y: 1, steps: 100000, want90: -0.4, want99: -0.49},
		{name: "between P90 and P99", y: 3, steps: 1, want90: 0.005 * 0.9, want99: -0.005 * 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var l levels
			for range tt.steps {
				l = l.step(tt.y, p, 0.005)
			}
			require.InDelta(t, tt.want90, l.A90, 1e-9)
			require.InDelta(t, tt.want99, l.A99, 1e-9)
		})
	}
}

// TestCoverageMarginWidensP90UnderRunShift: when each run is slower or faster than
// history as a whole, the margin buys P90 coverage, and only P90 moves. ACI is all but
// off here: on a stream this long it would take the margin back (that is its job).
func TestCoverageMarginWidensP90UnderRunShift(t *testing.T) {
	t.Parallel()
	cover := func(margin float64) (p90, p50 float64) {
		cfg := DefaultConfig()
		cfg.CoverageMargin, cfg.ACIStep = margin, 1e-9
		m := New(cfg)
		rng := rand.New(rand.NewPCG(9, 9))
		var ys, b90, b50 []float64
		for run := range 100 {
			shift := math.Exp(0.4 * rng.NormFloat64())
			r := m.NewRun()
			for range 10 {
				o := Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: 30 * shift * math.Exp(0.3*rng.NormFloat64())}
				p := r.Predict(queryOf(o))
				if run >= 50 {
					ys, b90, b50 = append(ys, o.RuntimeSeconds), append(b90, p.P90), append(b50, p.P50)
				}
				r.Observe(o)
				m.Observe(o)
			}
			r.Finish()
		}
		return coverage(ys, b90), coverage(ys, b50)
	}
	none90, none50 := cover(1e-9)
	def90, def50 := cover(DefaultConfig().CoverageMargin)
	t.Logf("P90 coverage without margin %.3f, with %.3f", none90, def90)
	require.Greater(t, def90, none90, "the margin widens P90")
	require.Equal(t, none50, def50, "P50 is not moved")
}
