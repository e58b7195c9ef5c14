package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/poolmanager/pool"
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
		wantVMOf     []int
	}{
		{
			name: "one VM runs everything in order",
			plan: &execPlan{vms: []planVM{{typ: typ, tier: events.TierCold, resumes: -1}},
				vmOf: []int{0, 0, 0}, start: []float64{60, 70, 100}, finish: []float64{70, 100, 105}},
			wantMakespan: typ.Cold.MeanSeconds + 45, wantVMs: 1, wantVMOf: []int{0, 0, 0},
		},
		{
			// c is runnable once a finishes; its VM, requested then, is still booting when b
			// frees the first VM, so dispatch runs c there as production's would.
			name: "a task whose planned VM is not ready runs on a ready VM with room",
			plan: &execPlan{vms: []planVM{{typ: typ, tier: events.TierCold, resumes: -1}, {typ: typ, tier: events.TierCold, requestAt: 500, resumes: -1}},
				vmOf: []int{0, 0, 1}, start: []float64{60, 70, 600}, finish: []float64{70, 100, 605}},
			wantMakespan: typ.Cold.MeanSeconds + 45, wantVMs: 2, wantVMOf: []int{0, 0, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := newPlanExecutor(tc.plan, tr, nil)
			require.NoError(t, err)
			s := newSim(tr, cat, 1)
			require.NoError(t, s.run(e))
			require.InDelta(t, tc.wantMakespan, s.makespan(), 1e-6)
			require.Len(t, s.vms, tc.wantVMs)
			require.Equal(t, tc.wantVMOf, s.vmOf)
			checkExecution(t, tc.name, s)
		})
	}
}

// TestDispatchFallsBackWhenPlannedVMIsFull mirrors the allocator: ready tasks go in
// upward-rank order to their planned VM when it has room, else best fit on any ready VM.
func TestDispatchFallsBackWhenPlannedVMIsFull(t *testing.T) {
	t.Parallel()
	cat := deterministicCatalog()
	typ, ok := cat.Type("c7i.large") // 2 cores
	require.True(t, ok)
	tr := &Trace{Name: "full", Family: "hand", Tasks: []Task{
		{ID: "big", CPU: 2, Runtime: 100},
		{ID: "small", CPU: 1, Runtime: 10},
		{ID: "other", CPU: 1, Runtime: 50},
	}, Order: []int{0, 1, 2}}
	lat := typ.Cold.MeanSeconds
	// The plan runs small on VM 0 after big; VM 1 holds other with a core to spare.
	plan := &execPlan{vms: []planVM{{typ: typ, tier: events.TierCold, resumes: -1}, {typ: typ, tier: events.TierCold, resumes: -1}},
		vmOf: []int{0, 0, 1}, start: []float64{lat, lat + 100, lat}, finish: []float64{lat + 100, lat + 110, lat + 50}}
	tests := []struct {
		name      string
		priority  []float64
		wantVMOf  []int
		wantStart []float64
	}{
		{name: "planned VM full: best fit elsewhere", priority: []float64{100, 10, 50},
			wantVMOf: []int{0, 1, 1}, wantStart: []float64{lat, lat, lat}},
		// small goes first and takes a core of VM 0, so big waits for it there.
		{name: "priority decides who goes first", priority: []float64{10, 100, 50},
			wantVMOf: []int{0, 0, 1}, wantStart: []float64{lat + 10, lat, lat}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := newPlanExecutor(plan, tr, tc.priority)
			require.NoError(t, err)
			s := newSim(tr, cat, 1)
			require.NoError(t, s.run(e))
			require.Equal(t, tc.wantVMOf, s.vmOf)
			require.InDeltaSlice(t, tc.wantStart, s.start, 1e-9)
			checkExecution(t, tc.name, s)
		})
	}
}

// TestIdleVMScalesInByLookingAhead follows production's scale-in: when a VM's last task
// finishes, the gap until the plan next needs it goes to pool.ScaleIn, which keeps it hot,
// stops it (started again, same key, one warm P90 ahead) or terminates it (relaunched cold
// one cold P90 ahead under the same plan key, so its planned task still finds it). A VM
// the plan no longer needs is terminated when it idles (VM 1 after b).
func TestIdleVMScalesInByLookingAhead(t *testing.T) {
	t.Parallel()
	cat := deterministicCatalog()
	for i := range cat.Types {
		// Slow launches open a band of gaps where a warm restart is the cheapest.
		cat.Types[i].Cold.MeanSeconds, cat.Types[i].Cold.P90Seconds = 300, 300
	}
	typ, ok := cat.Type("c7i.large")
	require.True(t, ok)
	lat := typ.Cold.MeanSeconds
	tests := []struct {
		name       string
		gap        float64
		wantAction pool.Action
		wantCounts map[pool.Action]int
		wantVMs    int
	}{
		{name: "need sooner than a warm start: keep hot", gap: 20, wantAction: pool.ActionKeepHot,
			wantCounts: map[pool.Action]int{pool.ActionKeepHot: 1, pool.ActionTerminate: 1}, wantVMs: 2},
		{name: "need sooner than a launch: stop to warm", gap: 150, wantAction: pool.ActionStop,
			wantCounts: map[pool.Action]int{pool.ActionStop: 1, pool.ActionTerminate: 1}, wantVMs: 3},
		{name: "need far ahead: terminate and relaunch", gap: 3000, wantAction: pool.ActionTerminate,
			wantCounts: map[pool.Action]int{pool.ActionTerminate: 2}, wantVMs: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// a (100 s) and c run on VM 0; c waits for b on VM 1, gap seconds after a ends.
			tr := &Trace{Name: "gap", Family: "hand", Tasks: []Task{
				{ID: "a", CPU: 2, Runtime: 100},
				{ID: "b", CPU: 2, Runtime: 100 + tc.gap, Children: []int{2}},
				{ID: "c", CPU: 2, Runtime: 10, Parents: []int{1}},
			}, Order: []int{0, 1, 2}}
			need := lat + 100 + tc.gap
			plan := &execPlan{vms: []planVM{{typ: typ, tier: events.TierCold, resumes: -1}, {typ: typ, tier: events.TierCold, resumes: -1}},
				vmOf: []int{0, 1, 0}, start: []float64{lat, lat, need}, finish: []float64{lat + 100, need, need + 10}}
			e, err := newPlanExecutor(plan, tr, []float64{100, 100 + tc.gap + 10, 10})
			require.NoError(t, err)
			e.scaleIn = true
			s := newSim(tr, cat, 1)
			require.NoError(t, s.run(e))
			checkExecution(t, tc.name, s)
			require.Equal(t, tc.wantCounts, e.scaleIns, "VM 0 idles once between a and c, VM 1 once after b")
			require.InDelta(t, need, s.vms[1].releaseAt, 1e-9, "VM 1 has nothing left after b")
			require.Len(t, s.vms, tc.wantVMs)
			first := s.vms[0]
			wantCost := 0.0
			switch tc.wantAction {
			case pool.ActionKeepHot:
				require.Equal(t, 0, s.vmOf[2], "c runs on the VM kept for it")
				require.InDelta(t, need+10, first.releaseAt, 1e-9)
				wantCost = cat.BilledCost(typ, need+10-lat) + cat.BilledCost(typ, need-lat)
			case pool.ActionStop:
				back := s.vms[2]
				require.InDelta(t, lat+100, first.releaseAt, 1e-9, "stopped when a finished")
				require.Equal(t, first.key, back.key, "a started VM keeps its key")
				require.InDelta(t, need-typ.Warm.P90Seconds, back.requestAt, 1e-9)
				require.Equal(t, 2, s.vmOf[2], "c runs on its planned machine, started again")
				require.InDelta(t, need, s.start[2], 1e-9)
				wantCost = cat.BilledCost(typ, 100) + cat.BilledCost(typ, 10) + cat.BilledCost(typ, need-lat) +
					(back.requestAt-first.releaseAt)*typ.WarmCostPerSecond
			case pool.ActionTerminate:
				relaunch := s.vms[2]
				require.InDelta(t, lat+100, first.releaseAt, 1e-9, "terminated when a finished")
				require.NotEqual(t, first.name, relaunch.name, "a relaunch is a new machine")
				require.Equal(t, first.key, relaunch.key, "under the plan's key")
				require.Equal(t, events.TierCold, relaunch.tier)
				require.InDelta(t, need-typ.Cold.P90Seconds, relaunch.requestAt, 1e-9)
				require.InDelta(t, need, s.start[2], 1e-9)
				require.Equal(t, 2, s.vmOf[2], "c finds its planned machine, relaunched")
				wantCost = cat.BilledCost(typ, 100) + cat.BilledCost(typ, need-lat) + cat.BilledCost(typ, 10)
			}
			require.InDelta(t, wantCost, s.cost(), 1e-12)
		})
	}
}

// TestKeptHotVMIsLookedAtAgain follows the allocator's re-examination of idle VMs: VM 0 is
// kept hot for c after a; b then runs late, a re-plan moves c to b's VM, and at the next
// event (b finishing) VM 0's next need has changed to "never", so it is announced again
// and terminated there, not left running until the workflow ends. When the re-plan
// leaves c where it was, VM 0 stays hot and runs it.
func TestKeptHotVMIsLookedAtAgain(t *testing.T) {
	t.Parallel()
	cat := deterministicCatalog()
	typ, ok := cat.Type("c7i.large")
	require.True(t, ok)
	lat := typ.Cold.MeanSeconds
	tests := []struct {
		name        string
		replannedOn int // c's VM in the re-plan
		wantCounts  map[pool.Action]int
		wantVM0End  float64 // when VM 0 is released
	}{
		{name: "c moved elsewhere: VM 0 terminated when b finishes", replannedOn: 1,
			wantCounts: map[pool.Action]int{pool.ActionKeepHot: 1, pool.ActionTerminate: 1}, wantVM0End: lat + 200},
		{name: "c stays: VM 0 kept hot runs it", replannedOn: 0,
			wantCounts: map[pool.Action]int{pool.ActionKeepHot: 1, pool.ActionTerminate: 1}, wantVM0End: lat + 1200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// a (100 s) on VM 0, then c (1000 s, child of b) planned on VM 0 20 s after a:
			// sooner than a warm start, so VM 0 is kept hot. b is planned for 110 s and
			// runs 200 s: still running past its drift threshold, it asks for a re-plan.
			tr := &Trace{Name: "moved", Family: "hand", Tasks: []Task{
				{ID: "a", CPU: 2, Runtime: 100},
				{ID: "b", CPU: 2, Runtime: 200, Children: []int{2}},
				{ID: "c", CPU: 2, Runtime: 1000, Parents: []int{1}},
			}, Order: []int{0, 1, 2}}
			vms := func(held bool) []planVM {
				out := []planVM{{typ: typ, tier: events.TierCold, resumes: -1}, {typ: typ, tier: events.TierCold, resumes: -1}}
				if held {
					out[0].held, out[1].held = 1, 2
				}
				return out
			}
			plan := &execPlan{vms: vms(false), vmOf: []int{0, 1, 0},
				start: []float64{lat, lat, lat + 120}, finish: []float64{lat + 100, lat + 110, lat + 1120}}
			e, err := newPlanExecutor(plan, tr, []float64{100, 1110, 1000})
			require.NoError(t, err)
			e.scaleIn = true
			replanned := 0
			e.adapt = &adaptation{replan: func(s *sim) (*execPlan, error) {
				replanned++
				return &execPlan{vms: vms(true), vmOf: []int{0, 1, tc.replannedOn},
					start: []float64{lat, lat, lat + 200}, finish: []float64{lat + 100, lat + 200, lat + 1200}}, nil
			}}
			s := newSim(tr, cat, 1)
			require.NoError(t, s.run(e))
			checkExecution(t, tc.name, s)
			require.Equal(t, 1, replanned)
			require.Equal(t, tc.replannedOn, s.vmOf[2], "c runs where the re-plan put it")
			require.InDelta(t, lat+1200, s.makespan(), 1e-9)
			require.Equal(t, tc.wantCounts, e.scaleIns)
			require.InDelta(t, tc.wantVM0End, s.vms[0].releaseAt, 1e-9)
			require.Len(t, s.vms, 2, "nothing relaunched")
		})
	}
}

// TestLaunchWhosePlannedTasksRanElsewhere: b (a's child) is planned on VM 1, whose launch
// comes 20 s late, so dispatch starts b on VM 0, idle since a finished, while VM 1 boots.
// Plan-driven releases cancel VM 1's launch then; production lets it come up, announces
// it idle with nothing planned and terminates it, paying the minimum bill;
// CancelUnneededLaunches (the proposed fix) cancels it while it boots.
func TestLaunchWhosePlannedTasksRanElsewhere(t *testing.T) {
	t.Parallel()
	cat := deterministicCatalog()
	typ, ok := cat.Type("c7i.large")
	require.True(t, ok)
	lat := typ.Cold.MeanSeconds
	tests := []struct {
		name           string
		scaleIn        bool
		cancel         bool
		wantCounts     map[pool.Action]int
		wantVM1Billed  bool
		wantVM1Release float64
	}{
		{name: "plan-driven: cancelled", wantCounts: map[pool.Action]int{}, wantVM1Release: lat + 100},
		{name: "production scale-in: up, idle, terminated", scaleIn: true,
			wantCounts: map[pool.Action]int{pool.ActionTerminate: 1}, wantVM1Billed: true, wantVM1Release: lat + 120},
		{name: "scale-in with unneeded launches cancelled", scaleIn: true, cancel: true,
			wantCounts: map[pool.Action]int{}, wantVM1Release: lat + 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := &Trace{Name: "elsewhere", Family: "hand", Tasks: []Task{
				{ID: "a", CPU: 2, Runtime: 100, Children: []int{1}},
				{ID: "b", CPU: 2, Runtime: 100, Parents: []int{0}},
			}, Order: []int{0, 1}}
			plan := &execPlan{vms: []planVM{{typ: typ, tier: events.TierCold, resumes: -1}, {typ: typ, tier: events.TierCold, requestAt: 120, resumes: -1}},
				vmOf: []int{0, 1}, start: []float64{lat, lat + 120}, finish: []float64{lat + 100, lat + 220}}
			e, err := newPlanExecutor(plan, tr, nil)
			require.NoError(t, err)
			e.scaleIn, e.cancelUnneeded = tc.scaleIn, tc.cancel
			s := newSim(tr, cat, 1)
			require.NoError(t, s.run(e))
			checkExecution(t, tc.name, s)
			require.Equal(t, []int{0, 0}, s.vmOf, "b runs on VM 0")
			require.InDelta(t, lat+200, s.makespan(), 1e-9)
			require.Len(t, s.vms, 2)
			vm1 := s.vms[1]
			require.Equal(t, tc.wantCounts, e.scaleIns)
			require.Equal(t, !tc.wantVM1Billed, vm1.cancelled)
			require.InDelta(t, tc.wantVM1Release, vm1.releaseAt, 1e-9)
			want := cat.BilledCost(typ, 200)
			if tc.wantVM1Billed {
				want += cat.BilledCost(typ, 0)
			}
			require.InDelta(t, want, s.cost(), 1e-12)
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
