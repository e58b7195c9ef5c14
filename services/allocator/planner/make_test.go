package planner

import (
	"errors"
	"testing"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/stretchr/testify/require"
)

func f64(x float64) *float64 { return &x }

// bundle is what most tests need: the default catalog and an input builder.
type bundle struct {
	cat catalog.Catalog
}

func setup(t *testing.T) bundle {
	t.Helper()
	return bundle{cat: catalog.Default()}
}

// input plans tasks in mode with no pool and exact request times (no drift lead).
func (b bundle) input(tasks []Task, mode string) Input {
	work := 0.0
	for _, t := range tasks {
		work += t.CPU * t.Duration
	}
	return Input{Tasks: tasks, Catalog: b.cat, Objective: ObjectiveFor(mode, nil, nil, nil, work, b.cat),
		Knobs: Knobs{DriftLead: -1}}
}

// fanOut is a source, width parallel tasks of d seconds, and a sink.
func fanOut(width int, d float64) []Task {
	ts := []Task{{ID: "src", CPU: 1, MemoryBytes: 1 << 30, Duration: d}}
	var mids []int32
	for i := 0; i < width; i++ {
		ts = append(ts, Task{ID: "mid", Parents: []int32{0}, CPU: 1, MemoryBytes: 1 << 30, Duration: d})
		mids = append(mids, int32(len(ts)-1))
	}
	return append(ts, Task{ID: "sink", Parents: mids, CPU: 1, MemoryBytes: 1 << 30, Duration: d})
}

func distinctVMs(p Plan, tasks ...int) int {
	seen := map[int]bool{}
	for _, i := range tasks {
		seen[p.Placements[i].VM] = true
	}
	return len(seen)
}

func TestMakeKeepsInvariants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pool := []PoolVM{{ID: "h1", InstanceType: "m7i.xlarge", Tier: events.TierHot},
		{ID: "w1", InstanceType: "c7i.large", Tier: events.TierWarm}, {ID: "w2", InstanceType: "c7i.large", Tier: events.TierWarm}}
	tests := []struct {
		name  string
		tasks []Task
		mode  string
		pool  []PoolVM
		knobs Knobs
	}{
		{name: "fan-out balanced", tasks: fanOut(40, 30), mode: ModeBalanced},
		{name: "fan-out fastest", tasks: fanOut(40, 30), mode: ModeFastest},
		{name: "fan-out cheapest", tasks: fanOut(40, 30), mode: ModeCheapest},
		{name: "layered with pool", tasks: layeredDAG(600, 30, 3), mode: ModeBalanced, pool: pool},
		{name: "layered warm-ahead and headroom", tasks: layeredDAG(400, 20, 4), mode: ModeBalanced,
			knobs: Knobs{WarmAheadSeconds: 30, MemoryHeadroom: 1.3}},
		{name: "empty", tasks: nil, mode: ModeBalanced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := b.input(tt.tasks, tt.mode)
			in.Pool = tt.pool
			if tt.knobs != (Knobs{}) {
				in.Knobs = tt.knobs
			}
			p, err := Make(in)
			require.NoError(t, err)
			checkPlan(t, in, p)
			require.NotEmpty(t, p.Reason)
		})
	}
}

func TestShortTasksShareAVM(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Six 1-core tasks of 10 s: a VM each would pay six minimum bills.
	tasks := make([]Task, 6)
	for i := range tasks {
		tasks[i] = Task{ID: "short", CPU: 1, MemoryBytes: 1 << 30, Duration: 10}
	}
	p, err := Make(b.input(tasks, ModeBalanced))
	require.NoError(t, err)
	checkPlan(t, b.input(tasks, ModeBalanced), p)
	require.Less(t, len(p.VMs), len(tasks), "tasks should share VMs: %s", p.Reason)
}

func TestSlackTasksWaitForASharedVM(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A 2,000 s critical task and ten 100 s side tasks with ample slack: they run one after
	// another beside it rather than on VMs of their own.
	tasks := []Task{{ID: "long", CPU: 1, MemoryBytes: 1 << 30, Duration: 2000}}
	for i := 0; i < 10; i++ {
		tasks = append(tasks, Task{ID: "side", CPU: 1, MemoryBytes: 1 << 30, Duration: 100})
	}
	in := b.input(tasks, ModeBalanced)
	p, err := Make(in)
	require.NoError(t, err)
	checkPlan(t, in, p)
	require.LessOrEqual(t, len(p.VMs), 2, "%s", p.Reason)
	require.InDelta(t, 60+2000, p.Makespan, 1, "the long task sets the makespan")
}

func TestVMRequestedItsLatencyBeforeItsFirstTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A 600 s source then a wide wave: the wave's VMs are launched while the source runs,
	// so they are ready exactly when it ends.
	tasks := fanOut(24, 300)
	tasks[0].Duration = 600
	in := b.input(tasks, ModeFastest)
	p, err := Make(in)
	require.NoError(t, err)
	checkPlan(t, in, p)
	first := map[int]float64{}
	for _, pl := range p.Placements {
		if s, ok := first[pl.VM]; !ok || pl.Start < s {
			first[pl.VM] = pl.Start
		}
	}
	later := 0
	for k, v := range p.VMs {
		typ, ok := b.cat.Type(v.InstanceType)
		require.True(t, ok)
		require.Equal(t, events.TierCold, v.Tier)
		require.InDelta(t, typ.Cold.MeanSeconds, v.ReadyAt-v.RequestAt, 1e-9)
		require.InDelta(t, first[k], v.ReadyAt, 1e-9, "VM %d ready when its first task starts", k)
		if v.RequestAt > 0 {
			later++
			require.InDelta(t, first[k]-typ.Cold.MeanSeconds, v.RequestAt, 1e-9)
		}
	}
	require.Positive(t, later, "the wave's VMs are requested during the source")
}

func TestWarmAheadAndDriftRequestEarlier(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tasks := fanOut(24, 300)
	tasks[0].Duration = 600
	exact := b.input(tasks, ModeFastest)
	early := exact
	early.Knobs = Knobs{WarmAheadSeconds: 20, DriftLead: 0.1}
	pe, err := Make(exact)
	require.NoError(t, err)
	pa, err := Make(early)
	require.NoError(t, err)
	checkPlan(t, early, pa)
	firstLater := func(p Plan) VM {
		for _, v := range p.VMs {
			if v.RequestAt > 0 {
				return v
			}
		}
		t.Fatal("no VM requested after the start")
		return VM{}
	}
	e, a := firstLater(pe), firstLater(pa)
	require.InDelta(t, e.ReadyAt-20-0.1*e.ReadyAt, a.ReadyAt, 1e-6, "ready 20 s + 10%% of its start early")
}

func TestCheapestUsesLessThanFastest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Short tasks: every extra VM pays a minimum bill for little work.
	tasks := fanOut(64, 10)
	pc, err := Make(b.input(tasks, ModeCheapest))
	require.NoError(t, err)
	pf, err := Make(b.input(tasks, ModeFastest))
	require.NoError(t, err)
	_, coresC := concurrent(pc)
	_, coresF := concurrent(pf)
	require.Less(t, coresC, coresF)
	require.Less(t, pf.Makespan, pc.Makespan)
	require.Less(t, pc.Cost, pf.Cost)
}

func TestDeadlinePenaltyBuysSpeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tasks := fanOut(64, 10)
	slow, err := Make(b.input(tasks, ModeCheapest))
	require.NoError(t, err)
	fastest, err := Make(b.input(tasks, ModeFastest))
	require.NoError(t, err)
	require.Less(t, fastest.Makespan, slow.Makespan)
	in := b.input(tasks, ModeCheapest)
	deadline := (slow.Makespan + fastest.Makespan) / 2
	in.Objective = ObjectiveFor(ModeCheapest, nil, f64(deadline), nil, 64*10, b.cat)
	fast, err := Make(in)
	require.NoError(t, err)
	checkPlan(t, in, fast)
	require.LessOrEqual(t, fast.Makespan, deadline)
	require.Greater(t, len(fast.VMs), len(slow.VMs))
}

func TestBudgetPenaltyBuysThrift(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tasks := fanOut(64, 10)
	fast, err := Make(b.input(tasks, ModeBalanced))
	require.NoError(t, err)
	in := b.input(tasks, ModeBalanced)
	in.Objective = ObjectiveFor(ModeBalanced, nil, nil, f64(fast.Cost/3), 64*10, b.cat)
	thrifty, err := Make(in)
	require.NoError(t, err)
	checkPlan(t, in, thrifty)
	require.Less(t, thrifty.Cost, fast.Cost)
}

func TestQuotasRespected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cat.Quotas = catalog.Quotas{MaxVMs: 3, MaxCores: 12}
	in := b.input(fanOut(60, 100), ModeFastest)
	p, err := Make(in)
	require.NoError(t, err)
	checkPlan(t, in, p)
	vms, cores := concurrent(p)
	require.LessOrEqual(t, vms, 3)
	require.LessOrEqual(t, cores, 12.0)
	require.NotEmpty(t, p.Contention, "waiting for the quota is reported")
	for _, w := range p.Contention {
		require.Less(t, w.StartSeconds, w.EndSeconds)
		require.Equal(t, 12.0, w.CapacityCores)
	}
}

func TestAvoidedTypesAndTiersAreNotPlanned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.input(fanOut(30, 60), ModeBalanced)
	var avoid []Avoid
	for _, typ := range b.cat.Types {
		if typ.Name[0] == 'c' {
			avoid = append(avoid, Avoid{InstanceType: typ.Name, Tier: events.TierCold})
		}
	}
	in.Avoid = avoid
	p, err := Make(in)
	require.NoError(t, err)
	checkPlan(t, in, p)
	for _, v := range p.VMs {
		require.False(t, v.InstanceType[0] == 'c' && v.Tier == events.TierCold, "%s launched cold", v.InstanceType)
	}
}

func TestHotPoolVMsStartAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.input(fanOut(3, 60), ModeBalanced)
	in.Pool = []PoolVM{{ID: "pool-1", InstanceType: "m7i.xlarge", Tier: events.TierHot}}
	p, err := Make(in)
	require.NoError(t, err)
	checkPlan(t, in, p)
	require.Equal(t, "pool-1", p.VMs[p.Placements[0].VM].PoolVMID)
	require.Equal(t, 0.0, p.Placements[0].Start)
	require.InDelta(t, 180, p.Makespan, 1e-9, "three waves of 60 s on the hot VM, no launch wait")
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.input(layeredDAG(800, 40, 9), ModeBalanced)
	in.Pool = []PoolVM{{ID: "w", InstanceType: "c7i.large", Tier: events.TierWarm}}
	first, err := Make(in)
	require.NoError(t, err)
	for range 3 {
		again, err := Make(in)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
}

func TestReplanKeepsFixedTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tasks := layeredDAG(200, 20, 5)
	in := b.input(tasks, ModeBalanced)
	first, err := Make(in)
	require.NoError(t, err)

	// Re-plan half-way: what finished or started before now is fixed where it ran.
	now := first.Makespan / 2
	re := in
	re.Now = now
	var fixedRunning []FixedTask
	for i, pl := range first.Placements {
		if pl.Start > now {
			continue
		}
		vm := first.VMs[pl.VM]
		f := FixedTask{Task: int32(i), VMKey: vm.Key, InstanceType: vm.InstanceType, Start: pl.Start, Finish: pl.Finish}
		re.Fixed = append(re.Fixed, f)
		if pl.Finish > now {
			fixedRunning = append(fixedRunning, f)
		}
	}
	require.NotEmpty(t, fixedRunning)
	p, err := Make(re)
	require.NoError(t, err)
	checkPlan(t, re, p)
	for _, f := range re.Fixed {
		pl := p.Placements[f.Task]
		require.Equal(t, f.Start, pl.Start)
		require.Equal(t, f.Finish, pl.Finish)
		require.Equal(t, f.VMKey, p.VMs[pl.VM].Key)
	}
	for i, pl := range p.Placements {
		if pl.Start > now {
			require.GreaterOrEqual(t, pl.Start, now, "task %d planned in the past", i)
		}
	}
}

func TestMakeRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name  string
		tasks []Task
		want  error
	}{
		{name: "cycle", tasks: []Task{{ID: "a", Parents: []int32{1}, CPU: 1}, {ID: "b", Parents: []int32{0}, CPU: 1}}, want: ErrInvalidInput},
		{name: "parent out of range", tasks: []Task{{ID: "a", Parents: []int32{5}, CPU: 1}}, want: ErrInvalidInput},
		{name: "own parent", tasks: []Task{{ID: "a", Parents: []int32{0}, CPU: 1}}, want: ErrInvalidInput},
		{name: "negative duration", tasks: []Task{{ID: "a", CPU: 1, Duration: -1}}, want: ErrInvalidInput},
		{name: "too many cores", tasks: []Task{{ID: "a", CPU: 1000, Duration: 1}}, want: ErrUnschedulable},
		{name: "too much memory", tasks: []Task{{ID: "a", CPU: 1, MemoryBytes: 1 << 50, Duration: 1}}, want: ErrUnschedulable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Make(b.input(tt.tasks, ModeBalanced))
			require.True(t, errors.Is(err, tt.want), "got %v", err)
		})
	}
}

func TestPlanningQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q     float64
		prior bool
		want  float64
	}{
		{q: 0.5, want: 0.5},
		{q: 0.5, prior: true, want: PriorQuantile},
		{q: 0.99, prior: true, want: 0.99}, // never lowered
		{q: 0.75, want: 0.75},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, PlanningQuantile(tt.q, tt.prior), "%+v", tt)
	}
}

func TestPlannedDuration(t *testing.T) {
	t.Parallel()
	hist := events.TaskPrediction{P50Seconds: 10, P90Seconds: 40, P99Seconds: 80, Source: "history"}
	prior := hist
	prior.Source = "family-prior"
	tests := []struct {
		p    events.TaskPrediction
		q    float64
		want float64
	}{
		{p: hist, q: 0.5, want: 10},
		{p: hist, q: 0.9, want: 40},
		{p: hist, q: 0.7, want: 20}, // halfway from P50 to P90 in log space
		{p: hist, q: 0.995, want: 80},
		{p: prior, q: 0.5, want: 40}, // a prior is planned at PriorQuantile at least
	}
	for _, tt := range tests {
		require.InDelta(t, tt.want, PlannedDuration(tt.p, tt.q), 1e-9, "%+v", tt)
	}
}
