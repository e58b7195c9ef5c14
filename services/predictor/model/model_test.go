package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func obs(sig string, rt float64, in int64) Observation {
	return Observation{Signature: sig, Family: "fam", Category: "cat-" + sig, InputBytes: in, RuntimeSeconds: rt, CPUSeconds: rt * 0.9, PeakRSSBytes: 100 << 20}
}

func TestObservationsMovePredictionTowardThem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		actual float64
	}{
		{name: "slower than prior", actual: 600},
		{name: "faster than prior", actual: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(DefaultConfig())
			q := Query{Signature: "s", Family: "fam", Category: "cat-s"}
			before := m.Predict(q)
			require.Equal(t, SourceGlobalPrior, before.Source)
			prevErr := math.Abs(math.Log(before.P50 / tc.actual))
			for i := range 5 {
				m.Observe(obs("s", tc.actual, 0))
				p := m.Predict(q)
				require.Equal(t, SourceHistory, p.Source)
				e := math.Abs(math.Log(p.P50 / tc.actual))
				require.LessOrEqual(t, e, prevErr+1e-9, "observation %d moved the prediction away", i)
				prevErr = e
			}
			require.Less(t, prevErr, 0.05)
		})
	}
}

func TestFallbackChainSaysSource(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	m.Observe(Observation{Signature: "a", Family: "f1", Category: "c1", RuntimeSeconds: 10})
	m.Observe(Observation{Signature: "b", Family: "f1", Category: "c2", RuntimeSeconds: 1000})
	tests := []struct {
		name string
		q    Query
		src  string
	}{
		{name: "signature", q: Query{Signature: "a", Family: "f1", Category: "c1"}, src: SourceHistory},
		{name: "category in family", q: Query{Signature: "new", Family: "f1", Category: "c2"}, src: SourceHistory},
		{name: "user estimate", q: Query{Signature: "new", Family: "f1", Category: "c9", UserEstimateSeconds: 42}, src: SourceUser},
		{name: "family", q: Query{Signature: "new", Family: "f1", Category: "c9"}, src: SourceFamilyPrior},
		{name: "global", q: Query{Signature: "new", Family: "f2"}, src: SourceGlobalPrior},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := m.Predict(tc.q)
			require.Equal(t, tc.src, p.Source)
			require.Greater(t, p.P50, 0.0)
			require.LessOrEqual(t, p.P50, p.P90)
			require.LessOrEqual(t, p.P90, p.P99)
		})
	}
}

func TestSiblingsSharpenRunPredictions(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	// History: this signature ran at ~100 s, with some spread.
	for i := range 20 {
		m.Observe(obs("s", 100*(1+0.2*math.Sin(float64(i))), 0))
	}
	r := m.NewRun()
	q := Query{Signature: "s", Family: "fam", Category: "cat-s"}
	before := r.Predict(q)
	// This run is on slower machines: siblings take ~150 s.
	for i := range 4 {
		r.Observe(obs("s", 150+float64(i), 0))
	}
	after := r.Predict(q)
	require.Equal(t, SourceSiblings, after.Source)
	require.Less(t, math.Abs(after.P50-150), math.Abs(before.P50-150))
	require.Greater(t, after.P90, after.P50)
	// The shared model is untouched by the run.
	require.InDelta(t, before.P50, m.Predict(q).P50, 1e-9)
}

func TestSiblingsWithoutHistory(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	r := m.NewRun()
	q := Query{Signature: "s", Family: "fam", Category: "cat-s"}
	for range 3 {
		r.Observe(obs("s", 30, 0))
	}
	p := r.Predict(q)
	require.Equal(t, SourceSiblings, p.Source)
	require.InDelta(t, 30, p.P50, 0.5)
}

func TestRegressionOnInputSize(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	// runtime = 2 s per MB with ±5% noise and one straggler the regression must shrug off.
	for i := 1; i <= 30; i++ {
		in := int64(i) << 20
		rt := 2 * float64(i) * (1 + 0.05*math.Sin(float64(i)*1.7))
		if i == 7 {
			rt *= 10
		}
		m.Observe(obs("s", rt, in))
	}
	for _, mb := range []int64{3, 15, 28} {
		p := m.Predict(Query{Signature: "s", Family: "fam", Category: "cat-s", InputBytes: mb << 20})
		require.InEpsilon(t, 2*float64(mb), p.P50, 0.1, "input %d MB", mb)
	}
}

func TestQuantileInterpolates(t *testing.T) {
	t.Parallel()
	p := Prediction{P50: 10, P90: 20, P99: 40}
	require.InDelta(t, 10, p.Quantile(0.5), 1e-9)
	require.InDelta(t, 20, p.Quantile(0.9), 0.05)
	require.InDelta(t, 40, p.Quantile(0.99), 1e-9)
	q75 := p.Quantile(0.75)
	require.Greater(t, q75, 10.0)
	require.Less(t, q75, 20.0)
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	for i := 1; i <= 10; i++ {
		m.Observe(obs("s", float64(i), int64(i)<<20))
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var back Model
	require.NoError(t, json.Unmarshal(b, &back))
	q := Query{Signature: "s", Family: "fam", Category: "cat-s", InputBytes: 5 << 20}
	require.Equal(t, m.Predict(q), back.Predict(q))
	require.ErrorIs(t, back.UnmarshalJSON([]byte(`{"version":99}`)), ErrBadState)
}

// finishRun ends a run that observed the family, so later observations are a run newer.
func finishRun(m *Model) {
	r := m.NewRun()
	r.Observe(obs("s", 1, 0))
	r.Finish()
}

func TestWindowBoundsMemory(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Window = 8
	m := New(cfg)
	for i := range 100 {
		m.Observe(obs("s", float64(i+1), 0))
		finishRun(m)
	}
	require.Len(t, m.keys["s\x00s"].Obs, 8)
	// Only the recent runs (93..100) remain.
	require.Greater(t, m.Predict(Query{Signature: "s"}).P50, 90.0)
}

// In one run a wide stage's tasks finish shortest first; a window that kept the last
// arrivals would remember only the run's slowest tasks.
func TestWindowSamplesOneRunFairly(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Window = 64
	m := New(cfg)
	for i := range 100 { // an older run, much faster: pushed out by the next
		m.Observe(obs("s", 0.01*float64(i+1), 0))
	}
	finishRun(m)
	for i := range 1000 { // finish order: 1 s, 2 s, ... 1000 s
		m.Observe(obs("s", float64(i+1), 0))
	}
	w := m.keys["s\x00s"].Obs
	require.Len(t, w, 64)
	rts := make([]float64, len(w))
	for i, p := range w {
		rts[i] = p.Rt
	}
	sort.Float64s(rts)
	require.Greater(t, rts[0], 1.0, "the older run has left the window")
	// A fair sample of 1..1000 has its median near 500; the last 64 arrivals' is 968.
	require.InDelta(t, 500, median(rts), 150)
	require.InDelta(t, 500, m.Predict(Query{Signature: "s"}).P50, 150)

	// Replaying the same observations rebuilds the same window.
	again := New(cfg)
	for i := range 100 {
		again.Observe(obs("s", 0.01*float64(i+1), 0))
	}
	finishRun(again)
	for i := range 1000 {
		again.Observe(obs("s", float64(i+1), 0))
	}
	require.Equal(t, w, again.keys["s\x00s"].Obs)
}

func TestFinishedRunsSizeTheBetweenRunSpread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		factors []float64 // each later run's runtime factor against history
		wider   bool
	}{
		{name: "stable runs narrow P90", factors: []float64{1, 1, 1, 1}, wider: false},
		{name: "drifting runs widen P90", factors: []float64{2, 0.5, 2, 0.5}, wider: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(DefaultConfig())
			q := Query{Signature: "s", Family: "fam", Category: "cat-s"}
			for i := range 10 {
				m.Observe(obs("s", 100*(1+0.01*float64(i%3)), 0))
			}
			before := m.Predict(q)
			for _, f := range tc.factors {
				r := m.NewRun()
				for i := range 10 {
					r.Observe(obs("s", 100*f*(1+0.01*float64(i%3)), 0))
				}
				r.Finish()
			}
			after := m.Predict(q)
			if tc.wider {
				require.Greater(t, after.P90/after.P50, before.P90/before.P50)
			} else {
				require.Less(t, after.P90/after.P50, before.P90/before.P50)
			}
		})
	}
}

func TestSiblingsCorrectMemory(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	for range 10 {
		m.Observe(Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: 10, PeakRSSBytes: 100 << 20})
	}
	q := Query{Signature: "s", Family: "f", Category: "c"}
	r := m.NewRun()
	require.InEpsilon(t, float64(100<<20), float64(r.Predict(q).MemoryP50), 0.01)
	// This run's data set is bigger: siblings peak at 250 MiB.
	for range 5 {
		r.Observe(Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: 10, PeakRSSBytes: 250 << 20})
	}
	p := r.Predict(q)
	require.Greater(t, p.MemoryP50, int64(200<<20))
	require.GreaterOrEqual(t, p.MemoryP90, int64(250<<20))
}

func TestRunningSiblingsRaiseTheFloor(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	for range 10 {
		m.Observe(obs("s", 1, 0))
	}
	q := Query{Signature: "s", Family: "fam", Category: "cat-s"}
	tests := []struct {
		name    string
		started []float64
		now     float64
		raised  bool
	}{
		{name: "too few siblings", started: []float64{0, 0}, now: 30, raised: false},
		{name: "not yet overdue", started: []float64{0, 0, 0, 0}, now: 0.5, raised: false},
		{name: "overdue siblings", started: []float64{0, 0, 0, 0}, now: 30, raised: true},
		{name: "unknown start times", started: []float64{math.NaN(), math.NaN(), math.NaN()}, now: 30, raised: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := m.NewRun()
			for _, s := range tc.started {
				r.StartedAt(q, s)
			}
			p := r.PredictAt(q, tc.now)
			if tc.raised {
				require.InDelta(t, tc.now, p.P50, 1e-9)
				require.Equal(t, SourceSiblings, p.Source)
			} else {
				require.Less(t, p.P50, 2.0)
			}
		})
	}
	// Finishing removes the matching running sibling.
	r := m.NewRun()
	for _, s := range []float64{0, 10, 20} {
		r.StartedAt(q, s)
	}
	starts := func() (out []float64) {
		for _, t := range r.running["s\x00s"] {
			out = append(out, t.start)
		}
		return out
	}
	r.ObserveAt(obs("s", 5, 0), 15)
	require.Equal(t, []float64{0, 20}, starts())
	r.Observe(obs("s", 5, 0))
	require.Equal(t, []float64{20}, starts())
}

func TestRunPoolIgnoresInputAcrossKinds(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	r := m.NewRun()
	// Finished tasks of other kinds, whose input sizes happen to track their runtimes.
	for i := range 10 {
		r.Observe(Observation{Signature: "big", Family: "f", Category: "big", InputBytes: 1 << 30, RuntimeSeconds: 50 + float64(i)})
		r.Observe(Observation{Signature: "small", Family: "f", Category: "small", InputBytes: 1 << 28, RuntimeSeconds: 0.3})
	}
	// A new kind with a tiny input: nothing says it is short, so no extrapolation to ~0.
	p := r.Predict(Query{Signature: "new", Family: "f", Category: "new", InputBytes: 1 << 18})
	require.Equal(t, SourceRunPrior, p.Source, "other kinds of task are a prior, not evidence")
	require.Greater(t, p.P50, 0.1)
	require.Greater(t, p.P90/p.P50, 2.0, "other kinds of task leave the spread wide")
}

// TestRunPriorLeansOnThePriorWhileEvidenceIsThin: one short task of another kind does
// not make a new kind short (blast's 0.05 s split against its 10 s blastall tasks); many
// such tasks pull it toward their level.
func TestRunPriorLeansOnThePriorWhileEvidenceIsThin(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	q := Query{Signature: "blastall", Family: "blast", Category: "blastall"}
	prior := m.Predict(q).P50
	split := Observation{Signature: "split", Family: "blast", Category: "split", RuntimeSeconds: 0.05}
	r := m.NewRun()
	r.Observe(split)
	one := r.Predict(q)
	require.Equal(t, SourceRunPrior, one.Source)
	// Halfway in log space between the prior and the split, with the prior counting as
	// SiblingShrink (1) task.
	require.InDelta(t, math.Sqrt(prior*split.RuntimeSeconds), one.P50, 1e-6*prior)
	for range 19 {
		r.Observe(split)
	}
	many := r.Predict(q).P50
	require.Less(t, many, one.P50)
	require.InDelta(t, math.Log(split.RuntimeSeconds), math.Log(many), math.Log(prior/split.RuntimeSeconds)/20+1e-9)
}

func TestFamilyPriorIgnoresInputAcrossKinds(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	for i := range 10 {
		m.Observe(Observation{Signature: "big", Family: "f", Category: "big", InputBytes: 1 << 30, RuntimeSeconds: 50 + float64(i)})
		m.Observe(Observation{Signature: "small", Family: "f", Category: "small", InputBytes: 1 << 28, RuntimeSeconds: 0.3})
	}
	for _, in := range []int64{1 << 24, 1 << 29, 1 << 33} {
		p := m.Predict(Query{Signature: "new", Family: "f", Category: "new", InputBytes: in})
		require.Equal(t, SourceFamilyPrior, p.Source)
		require.Equal(t, m.Predict(Query{Signature: "new", Family: "f", Category: "new"}).P50, p.P50)
	}
}

func TestHistoryFollowsARegimeChange(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	q := Query{Signature: "s", Family: "fam", Category: "cat-s"}
	run := func(rt float64) {
		r := m.NewRun()
		for i := range 10 {
			o := obs("s", rt*(1+0.02*float64(i%5)), 0)
			r.Observe(o)
			m.Observe(o)
		}
		r.Finish()
	}
	// Twenty runs at ~100 s, then a new software version doubles runtimes.
	for range 20 {
		run(100)
	}
	runs := 0
	for m.Predict(q).P50 < 150 {
		run(200)
		runs++
		require.Less(t, runs, 6, "a plain window median would need 13 runs")
	}
	t.Logf("followed the new regime after %d runs", runs)
	// Without Finish there are no run boundaries and no recency: within a run, finish
	// order is runtime order, which must not be mistaken for age.
	flat := New(DefaultConfig())
	for i := range 100 {
		flat.Observe(obs("s", float64(1+i), 0))
	}
	require.InDelta(t, 50.5, flat.Predict(q).P50, 1)
}

func TestWeightedMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		xs, ws []float64
		want   float64
	}{
		{name: "equal weights odd", xs: []float64{3, 1, 2}, ws: []float64{1, 1, 1}, want: 2},
		{name: "equal weights even", xs: []float64{4, 1, 3, 2}, ws: []float64{1, 1, 1, 1}, want: 2.5},
		{name: "heavy recent", xs: []float64{1, 1, 1, 9}, ws: []float64{1, 1, 1, 5}, want: 9},
		{name: "empty", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tc.want, weightedMedian(tc.xs, tc.ws), 1e-12)
		})
	}
}

func TestKaplanMeierQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		events, censored []float64
		p                float64
		want             float64
		ok               bool
	}{
		{name: "no censoring is the empirical quantile", events: []float64{1, 2, 3, 4}, p: 0.5, want: 2, ok: true},
		{name: "censored late count as longer", events: []float64{1, 2}, censored: []float64{9, 9}, p: 0.5, want: 2, ok: true},
		{name: "too few events", events: []float64{1}, censored: []float64{9, 9, 9}, p: 0.5, ok: false},
		// Censored before every event: they leave the risk set and say nothing.
		{name: "censored early say nothing", events: []float64{1, 2, 3}, censored: []float64{0, 0, 0, 0}, p: 0.5, want: 2, ok: true},
		// 1 of 4 at risk dies at 1 (S=.75); at 3 one of 2 left (S=.375).
		{name: "censoring in between", events: []float64{1, 3}, censored: []float64{2, 4}, p: 0.5, want: 3, ok: true},
		{name: "ties", events: []float64{1, 1, 1, 5}, p: 0.5, want: 1, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := kmQuantile(tt.events, tt.censored, tt.p)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, tt.want, got)
			}
		})
	}
}

// A wave of siblings that all finished at about history's median, followed by a second
// wave dispatched just now: without times the overlay must read the finished ones as the
// shortest of everything started; with times it knows the new wave has told it nothing.
func TestRunKnowsAJustDispatchedWaveSaysNothing(t *testing.T) {
	t.Parallel()
	m := New(DefaultConfig())
	for i := range 200 {
		m.Observe(obs("s", 10*math.Exp(0.3*math.Sin(float64(i))), 0))
	}
	q := Query{Signature: "s", Family: "fam", Category: "cat-s"}
	hist := m.Predict(q).P50

	timed, untimed := m.NewRun(), m.NewRun()
	for i := range 20 {
		timed.StartedAt(q, 0)
		untimed.Started(q)
		rt := 10 * (0.9 + 0.01*float64(i)) // 9 s .. 10.9 s, at history's level
		timed.ObserveAt(obs("s", rt, 0), rt)
		untimed.Observe(obs("s", rt, 0))
	}
	for range 60 { // the next wave, dispatched at 11 s
		timed.StartedAt(q, 11)
		untimed.Started(q)
	}
	now := 11.0
	require.InDelta(t, hist, timed.PredictAt(q, now).P50, 0.15*hist, "the finished wave is the run's evidence")
	require.Greater(t, untimed.Predict(q).P50, timed.PredictAt(q, now).P50*1.05,
		"without times 20 of 80 finished read as the shortest quarter")

	// As the second wave runs past the first's runtimes the censored residuals push up.
	require.Greater(t, timed.PredictAt(q, now+30).P50, timed.PredictAt(q, now).P50*1.5)
}

// TestPredictAtMemoIsNeverStale interleaves dispatches, finishes, history and time, and
// checks every memoised PredictAt against a fresh computation.
func TestPredictAtMemoIsNeverStale(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 3))
	m := New(DefaultConfig())
	for i := range 40 {
		m.Observe(Observation{Signature: "s", Family: "f", Category: "c", InputBytes: int64(1000 + i), RuntimeSeconds: float64(5 + i%7)})
	}
	r := m.NewRun()
	queries := []Query{
		{Signature: "s", Family: "f", Category: "c", InputBytes: 1000},
		{Signature: "s", Family: "f", Category: "c", InputBytes: 5000},
		{Signature: "t", Family: "f", Category: "c"},
	}
	now := 0.0
	for range 500 {
		q := queries[rng.IntN(len(queries))]
		switch rng.IntN(6) {
		case 0:
			r.StartedAt(q, now)
		case 1:
			r.ObserveAt(Observation{Signature: q.Signature, Family: q.Family, Category: q.Category, InputBytes: q.InputBytes,
				RuntimeSeconds: 1 + 10*rng.Float64()}, now)
		case 2:
			m.Observe(Observation{Signature: q.Signature, Family: q.Family, Category: q.Category, RuntimeSeconds: 1 + 10*rng.Float64()})
		case 3:
			now += rng.Float64()
		}
		require.Equal(t, r.predictAt(q, now), r.PredictAt(q, now))
	}
}
