package policy

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func setup(t *testing.T, cfg Config) (*LinUCB, []float64) {
	t.Helper()
	p := New(DefaultActions(), Dim, cfg)
	x := Features{Tasks: 100, CriticalPathSeconds: 600, TotalWorkCoreSeconds: 6000, PeakWidth: 40, MeanCV: 0.3, HistorySamples: 50, Family: "montage"}.Vector()
	require.Len(t, x, Dim)
	return p, x
}

func TestDefaultActions(t *testing.T) {
	t.Parallel()
	a := DefaultActions()
	require.Len(t, a, 18)
	require.Equal(t, 0.9, a[0].RuntimeQuantile)
	names := map[string]bool{}
	for _, x := range a {
		require.False(t, names[x.Name], "duplicate %s", x.Name)
		names[x.Name] = true
	}
}

func TestSafeDefaultWhileItKnowsLittle(t *testing.T) {
	t.Parallel()
	p, x := setup(t, DefaultConfig())
	for i := range DefaultConfig().MinPulls {
		idx, reason := p.Choose(x)
		require.Equal(t, 0, idx)
		require.True(t, strings.HasPrefix(reason, "safe-default"), reason)
		p.Update(x, idx, 0)
		require.Equal(t, i+1, p.Pulls())
	}
	_, reason := p.Choose(x)
	require.False(t, strings.HasPrefix(reason, "safe-default"), reason)
}

func TestRewardMovesThePolicy(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.MinPulls = 0
	p, x := setup(t, cfg)
	const good = 7
	before, _ := p.Score(x, good)
	p.Update(x, good, 0.8)
	after, _ := p.Score(x, good)
	require.Greater(t, after, before)
	for range 5 {
		p.Update(x, good, 0.8)
		p.Update(x, 0, -0.2)
	}
	idx, reason := p.Choose(x)
	require.Equal(t, good, idx, reason)
	// A run of bad outcomes moves it off again.
	for range 20 {
		p.Update(x, good, -0.9)
	}
	idx, _ = p.Choose(x)
	require.NotEqual(t, good, idx)
}

func TestContextualChoice(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.MinPulls = 3
	p := New(DefaultActions(), Dim, cfg)
	// Two kinds of workflow: for dispersed runtimes planning at P90 pays, for tight ones P50.
	wide := Features{Tasks: 500, CriticalPathSeconds: 3000, TotalWorkCoreSeconds: 90000, PeakWidth: 200, MeanCV: 1.5, HistorySamples: 200, Family: "a"}.Vector()
	tight := Features{Tasks: 20, CriticalPathSeconds: 60, TotalWorkCoreSeconds: 300, PeakWidth: 5, MeanCV: 0.05, HistorySamples: 200, Family: "b"}.Vector()
	reward := func(ctx string, a Action) float64 {
		if ctx == "wide" {
			return 0.5 - math.Abs(a.RuntimeQuantile-0.9) - 0.1*math.Abs(a.MemoryHeadroom-1.3)
		}
		return 0.5 - math.Abs(a.RuntimeQuantile-0.5) - 0.1*math.Abs(a.MemoryHeadroom-1.1)
	}
	acts := p.Actions()
	for i := range 400 {
		ctx, x := "wide", wide
		if i%2 == 1 {
			ctx, x = "tight", tight
		}
		idx, _ := p.Choose(x)
		p.Update(x, idx, reward(ctx, acts[idx]))
	}
	iw, _ := p.Choose(wide)
	it, _ := p.Choose(tight)
	require.InDelta(t, 0.9, acts[iw].RuntimeQuantile, 1e-9, acts[iw].Name)
	require.InDelta(t, 0.5, acts[it].RuntimeQuantile, 1e-9, acts[it].Name)
}

func TestBoundedExploration(t *testing.T) {
	t.Parallel()
	// The safe default has done well and every other action, tried once, badly. With a
	// huge Alpha the optimistic choice is one of the others, whose estimated shortfall
	// against the greedy choice is far above what MaxExploreRegret lets the budget save.
	train := func(mer float64) *LinUCB {
		cfg := DefaultConfig()
		cfg.MinPulls = 0
		cfg.Alpha = 100
		cfg.MaxExploreRegret = mer
		p, x := setup(t, cfg)
		for range 10 {
			p.Update(x, 0, 0.9)
		}
		for i := 1; i < len(p.Actions()); i++ {
			p.Update(x, i, -0.9)
		}
		p.budget = budgetCap * mer // as much as it may save up
		return p
	}
	_, x := setup(t, DefaultConfig())
	idx, reason := train(0.05).Choose(x)
	require.Equal(t, 0, idx)
	require.Contains(t, reason, "exploration capped")
	idx, reason = train(2).Choose(x)
	require.NotEqual(t, 0, idx)
	require.True(t, strings.HasPrefix(reason, "explore"), reason)
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	run := func() []int {
		p, x := setup(t, DefaultConfig())
		var out []int
		for i := range 30 {
			idx, _ := p.Choose(x)
			out = append(out, idx)
			p.Update(x, idx, math.Sin(float64(i*idx)))
		}
		return out
	}
	require.Equal(t, run(), run())
}

func TestUpdateIgnoresGarbage(t *testing.T) {
	t.Parallel()
	p, x := setup(t, DefaultConfig())
	p.Update(x, -1, 1)
	p.Update(x, 999, 1)
	p.Update(x, 0, math.NaN())
	p.Update(x, 0, math.Inf(1))
	require.Equal(t, 0, p.Pulls())
	p.Update([]float64{1}, 0, 0.5) // short context is padded
	require.Equal(t, 1, p.Pulls())
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	p, x := setup(t, DefaultConfig())
	for i := range 12 {
		idx, _ := p.Choose(x)
		p.Update(x, idx, 0.1*float64(i%5))
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var q LinUCB
	require.NoError(t, json.Unmarshal(b, &q))
	for i := range p.Actions() {
		m1, w1 := p.Score(x, i)
		m2, w2 := q.Score(x, i)
		require.InDelta(t, m1, m2, 1e-9)
		require.InDelta(t, w1, w2, 1e-9)
	}
	i1, r1 := p.Choose(x)
	i2, r2 := q.Choose(x)
	require.Equal(t, i1, i2)
	require.Equal(t, r1, r2)
	require.InDelta(t, p.noise(), q.noise(), 1e-9)
	require.ErrorIs(t, q.UnmarshalJSON([]byte(`{"version":1,"dim":2,"actions":[{}],"arms":[]}`)), ErrBadState)
	// A version 2 state (16 family buckets, budget charged for the safe default) is
	// refused with its version named, so the caller can say why it starts afresh.
	err = q.UnmarshalJSON([]byte(`{"version":2,"dim":26,"actions":[{}],"pulls":[0],"a":[],"b":[]}`))
	require.ErrorIs(t, err, ErrBadState)
	require.Contains(t, err.Error(), "state version 2")
}

func TestReward(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		cost, mk       float64
		oom            int
		missed         bool
		wantLo, wantHi float64
	}{
		{name: "on plan", cost: 10, mk: 100, wantLo: -1e-9, wantHi: 1e-9},
		{name: "cheaper and faster", cost: 5, mk: 50, wantLo: 0.3, wantHi: 1},
		{name: "twice the cost", cost: 20, mk: 100, wantLo: -0.5, wantHi: -0.1},
		{name: "oom kills", cost: 10, mk: 100, oom: 2, wantLo: -0.51, wantHi: -0.49},
		{name: "missed deadline, slow", cost: 10, mk: 1000, missed: true, wantLo: -1, wantHi: -0.9},
		{name: "zero plan is neutral", cost: 0, mk: 0, wantLo: -1e-9, wantHi: 1e-9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plannedCost, plannedMk := 10.0, 100.0
			if tc.name == "zero plan is neutral" {
				plannedCost, plannedMk = 0, 0
			}
			r := Reward(tc.cost, tc.mk, plannedCost, plannedMk, 0.5, tc.oom, tc.missed)
			require.GreaterOrEqual(t, r, tc.wantLo)
			require.LessOrEqual(t, r, tc.wantHi)
		})
	}
}

func FuzzFeaturesVector(f *testing.F) {
	f.Add(10, 100.0, 1000.0, 5, 0.3, 7, 1, 2, "montage")
	f.Add(-1, math.Inf(1), math.NaN(), -5, -3.0, -1, -1, -1, "")
	f.Fuzz(func(t *testing.T, tasks int, cp, work float64, width int, cv float64, hist, hot, warm int, fam string) {
		x := Features{Tasks: tasks, CriticalPathSeconds: cp, TotalWorkCoreSeconds: work, PeakWidth: width, MeanCV: cv, HistorySamples: hist, HotVMs: hot, WarmVMs: warm, Family: fam}.Vector()
		require.Len(t, x, Dim)
		p := New(DefaultActions(), Dim, DefaultConfig())
		p.Update(x, 0, 0.5)
		idx, _ := p.Choose(x)
		require.GreaterOrEqual(t, idx, 0)
		m, w := p.Score(x, 0)
		require.False(t, math.IsNaN(m) || math.IsNaN(w))
	})
}

func TestSafeDefaultIsNotExploration(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	p, x := setup(t, cfg)
	// While the policy knows little it plays the safe default, which here does badly:
	// untried actions still score the prior's 0, far above it. That is the baseline, not
	// exploration, and must not leave the exploration budget in debt.
	for range cfg.MinPulls {
		idx, reason := p.Choose(x)
		require.True(t, strings.HasPrefix(reason, "safe-default"), reason)
		p.Update(x, idx, -0.8)
	}
	require.InDelta(t, 0, p.budget, 1e-12)
	idx, _ := p.Choose(x)
	p.Update(x, idx, -0.1)
	require.GreaterOrEqual(t, p.budget, 0.0)
}

// TestReplayedRewardTeachesAtItsWeight: a replayed reward moves the policy toward it, by
// less than the same reward played, counts toward leaving the safe default, and spends
// no exploration budget.
func TestReplayedRewardTeachesAtItsWeight(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	played, x := setup(t, cfg)
	replayed, _ := setup(t, cfg)
	const a = 7
	played.Update(x, a, 0.8)
	replayed.Replayed(x, a, 0.8)
	mp, wp := played.Score(x, a)
	mr, wr := replayed.Score(x, a)
	require.Positive(t, mr, "a replayed reward moves the estimate toward it")
	require.Less(t, mr, mp, "by less than a played one")
	require.Greater(t, wr, wp, "and narrows the confidence width less")

	fresh, _ := setup(t, cfg)
	for range cfg.MinPulls {
		fresh.Replayed(x, a, 0.5)
	}
	_, reason := fresh.Choose(x)
	require.False(t, strings.HasPrefix(reason, "safe-default"), reason)
	require.Zero(t, fresh.budget, "replays earn and spend no exploration budget")

	for _, bad := range []float64{math.NaN(), math.Inf(-1)} {
		fresh.Replayed(x, a, bad)
	}
	fresh.Replayed(x, 99, 0.5)
	require.Equal(t, cfg.MinPulls, fresh.Pulls(), "garbage is ignored")
	require.Equal(t, cfg.MinPulls, fresh.Replays())
}

// TestMarshalKeepsReplayWeight: the noise estimate's weights survive a restart.
func TestMarshalKeepsReplayWeight(t *testing.T) {
	t.Parallel()
	p, x := setup(t, DefaultConfig())
	p.Update(x, 1, 0.3)
	p.Replayed(x, 2, 0.1)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	q := New(DefaultActions(), Dim, DefaultConfig())
	require.NoError(t, json.Unmarshal(b, q))
	require.InDelta(t, 1+ReplayWeight, q.weight, 1e-12)
	require.InDelta(t, p.noise(), q.noise(), 1e-12)
}
