package bench

import (
	"fmt"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/services/allocator/planner"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// defaultPlanMaker is the allocator's planner.
var defaultPlanMaker planMaker = makeWithPlanner

// makeWithPlanner calls planner.Make the way the allocator does on demand-predicted: the
// tasks with their requested cores and memory and the planned durations, the objective
// for the mode (λ from the predicted work), the knobs of the chosen action, and an empty
// pool — the bench starts every workflow with no VM hot or warm, like the baselines.
func makeWithPlanner(cat catalog.Catalog, tr *Trace, dur []float64, a policy.Action, mode string) (*execPlan, error) {
	tasks := make([]planner.Task, len(tr.Tasks))
	work := 0.0
	for i, t := range tr.Tasks {
		ps := make([]int32, len(t.Parents))
		for k, p := range t.Parents {
			ps[k] = int32(p)
		}
		tasks[i] = planner.Task{ID: t.ID, Parents: ps, CPU: t.CPU, MemoryBytes: t.Memory, Duration: dur[i]}
		work += dur[i] * t.CPU
	}
	obj := planner.ObjectiveFor(mode, nil, nil, nil, work, cat)
	p, err := planner.Make(planner.Input{
		Tasks: tasks, Catalog: cat, Objective: obj,
		Knobs: planner.Knobs{WarmAheadSeconds: a.WarmAheadSeconds, MemoryHeadroom: a.MemoryHeadroom},
	})
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return fromPlannerPlan(p, cat, len(tasks))
}

func fromPlannerPlan(p planner.Plan, cat catalog.Catalog, n int) (*execPlan, error) {
	ep := &execPlan{
		vms: make([]planVM, len(p.VMs)), vmOf: make([]int, n), start: make([]float64, n),
		finish: make([]float64, n), makespan: p.Makespan, cost: p.Cost,
	}
	for i, v := range p.VMs {
		typ, ok := cat.Type(v.InstanceType)
		if !ok {
			return nil, fmt.Errorf("plan VM %s: unknown instance type %q", v.Key, v.InstanceType)
		}
		ep.vms[i] = planVM{typ: typ, tier: v.Tier, requestAt: v.RequestAt, resumes: v.Resumes}
	}
	if len(p.Placements) != n {
		return nil, fmt.Errorf("plan places %d of %d tasks", len(p.Placements), n)
	}
	for i, pl := range p.Placements {
		t := int(pl.Task)
		if t < 0 || t >= n {
			t = i
		}
		ep.vmOf[t], ep.start[t], ep.finish[t] = pl.VM, pl.Start, pl.Finish
	}
	return ep, nil
}
