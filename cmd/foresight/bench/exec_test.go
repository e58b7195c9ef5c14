package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// deterministicCatalog is the default catalog with every latency fixed at its mean, so a
// plan's timing is exactly reproducible.
func deterministicCatalog() catalog.Catalog {
	c := catalog.Default()
	for i := range c.Types {
		for _, l := range []*catalog.Latency{&c.Types[i].Warm, &c.Types[i].Cold} {
			l.P90Seconds = l.MeanSeconds
		}
	}
	return c
}

func TestOracleExecutesItsPlanWhenLatencyIsExact(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cat := deterministicCatalog()
	for _, tr := range f.traces {
		for _, mode := range []string{"balanced", "fastest", "cheapest"} {
			ex, err := executePlanned(tr, defaultPlanMaker, trueRuntimes(tr), oracleAction(), Options{Catalog: cat, Objective: mode, NoWarmPool: true}, 1, nil)
			require.NoError(t, err, tr.Name)
			// With exact runtimes and latencies, following the plan can only be as fast and as
			// cheap as the plan says (backfill may start a task earlier, never later).
			require.LessOrEqual(t, ex.makespan, ex.plan.makespan+1e-6, "%s %s", tr.Name, mode)
			require.LessOrEqual(t, ex.cost, ex.plan.cost*(1+1e-9)+1e-12, "%s %s", tr.Name, mode)
			require.GreaterOrEqual(t, ex.makespan, makespanLowerBound(tr, cat, ex.hotAtStart)-1e-6)
		}
	}
}

func TestPlanExecutorFollowsAssignments(t *testing.T) {
	t.Parallel()
	cat := deterministicCatalog()
	typ, ok := cat.Type("c7i.large") // 2 cores
	require.True(t, ok)
	tr := &Trace{Name: "hand", Family: "hand", Tasks: []Task{
		{ID: "a", CPU: 2, Runtime: 10, Children: []int{1, 2}},
		{ID: "b", CPU: 2, Runtime: 30, Parents: []int{0}},
		{ID: "c", CPU: 2, Runtime: 5, Parents: []int{0}},
	}, Order: []int{0, 1, 2}}
	tests := []struct {
		name         string
		plan         *execPlan
		wantMakespan float64
		wantVMs      int
	}{
		{
			name: "one VM runs everything in order",
			plan: &execPlan{vms: []planVM{{typ: typ, tier: events.TierCold, resumes: -1}},
				vmOf: []int{0, 0, 0}, start: []float64{60, 70, 100}, finish: []float64{70, 100, 105}},
			wantMakespan: typ.Cold.MeanSeconds + 45, wantVMs: 1,
		},
		{
			name: "a second VM requested late is requested when its task is runnable",
			plan: &execPlan{vms: []planVM{{typ: typ, tier: events.TierCold, resumes: -1}, {typ: typ, tier: events.TierCold, requestAt: 500, resumes: -1}},
				vmOf: []int{0, 0, 1}, start: []float64{60, 70, 600}, finish: []float64{70, 100, 605}},
			wantMakespan: typ.Cold.MeanSeconds + 10 + max(30, typ.Cold.MeanSeconds+5), wantVMs: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := newPlanExecutor(tc.plan, len(tr.Tasks))
			require.NoError(t, err)
			s := newSim(tr, cat, 1)
			require.NoError(t, s.run(e))
			require.InDelta(t, tc.wantMakespan, s.makespan(), 1e-6)
			require.Len(t, s.vms, tc.wantVMs)
			for i := range tr.Tasks {
				require.Equal(t, tc.plan.vmOf[i], s.vmOf[i], "task %d on its planned VM", i)
			}
		})
	}
}

func TestBillingHasMinimumChargeAndStandby(t *testing.T) {
	t.Parallel()
	cat := deterministicCatalog()
	typ, _ := cat.Type("c7i.large")
	tr := &Trace{Name: "one", Tasks: []Task{{ID: "a", CPU: 1, Runtime: 5}}, Order: []int{0}}
	s := newSim(tr, cat, 1)
	require.NoError(t, s.run(&reactive{typ: typ}))
	// One cold VM: ready after the cold latency, busy 5 s, idle IdleTimeout, then terminated:
	// billed 65 s (more than the 60 s minimum).
	require.InDelta(t, typ.Cold.MeanSeconds+5, s.makespan(), 1e-9)
	require.InDelta(t, (5+IdleTimeout)*typ.PricePerSecond, s.cost(), 1e-12)

	s = newSim(tr, cat, 1)
	require.NoError(t, s.run(&reactive{typ: typ, warm: &warmPool{n: 2}}))
	require.InDelta(t, typ.Warm.MeanSeconds+5, s.makespan(), 1e-9)
	require.Greater(t, s.cost(), (5+IdleTimeout)*typ.PricePerSecond, "warm standby storage is billed")
}

func TestLearningCurveRegret(t *testing.T) {
	t.Parallel()
	f := setup(t)
	lc, err := learningCurve(Options{Traces: f.traces, Catalog: f.cat, Seed: 5, LearningWorkflows: 8}, defaultPlanMaker)
	require.NoError(t, err)
	require.Len(t, lc.Points, 8)
	require.NotEmpty(t, lc.BestFixedAction)
	sum := 0.0
	for _, p := range lc.Points {
		// Every result meets its lower bounds, so no objective is negative.
		require.GreaterOrEqual(t, p.Objective, -1e-9)
		require.GreaterOrEqual(t, p.BestFixed, -1e-9)
		sum += p.Objective - p.BestFixed
	}
	require.InDelta(t, sum, lc.Points[len(lc.Points)-1].CumulativeRegret, 1e-9)
	again, err := learningCurve(Options{Traces: f.traces, Catalog: f.cat, Seed: 5, LearningWorkflows: 8}, defaultPlanMaker)
	require.NoError(t, err)
	require.Equal(t, lc, again, "same seed, same curve")
}
