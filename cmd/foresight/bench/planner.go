package bench

import (
	"fmt"
	"strconv"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
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

// vmKey names a simulator VM to the planner.
func vmKey(v *simVM) string { return "sim-" + strconv.Itoa(v.id) }

// plannerReplan returns the allocator's re-plan: planner.Make at s.now with every started
// task fixed where it runs (running ones until their predicted finish), the workflow's
// live VMs offered as hot pool VMs (booting ones from their expected ready time), and the
// unstarted tasks at durNow — the predictor's dispatch-time estimates.
func plannerReplan(cat catalog.Catalog, tr *Trace, a policy.Action, mode string, durNow func(i int) float64) func(s *sim) (*execPlan, error) {
	return func(s *sim) (*execPlan, error) {
		n := len(tr.Tasks)
		tasks := make([]planner.Task, n)
		work := 0.0
		var fixed []planner.FixedTask
		for i, t := range tr.Tasks {
			ps := make([]int32, len(t.Parents))
			for k, p := range t.Parents {
				ps[k] = int32(p)
			}
			d := durNow(i)
			tasks[i] = planner.Task{ID: t.ID, Parents: ps, CPU: t.CPU, MemoryBytes: t.Memory, Duration: d}
			if !s.started[i] {
				work += d * t.CPU
				continue
			}
			v := s.vms[s.vmOf[i]]
			fin := s.finish[i]
			if s.isRunning(i) {
				fin = max(s.start[i]+d, s.now+1e-3)
			}
			fixed = append(fixed, planner.FixedTask{Task: int32(i), VMKey: vmKey(v), InstanceType: v.typ.Name, Start: s.start[i], Finish: fin})
		}
		var pool []planner.PoolVM
		byKey := map[string]int{}
		for _, v := range s.vms {
			if v.released() {
				continue
			}
			free := s.now
			if !v.ready {
				lat := v.typ.Cold.MeanSeconds
				if v.tier == events.TierWarm {
					lat = v.typ.Warm.MeanSeconds
				}
				free = max(s.now, v.requestAt+lat)
			}
			pool = append(pool, planner.PoolVM{ID: vmKey(v), InstanceType: v.typ.Name, Tier: events.TierHot, FreeAt: free})
			byKey[vmKey(v)] = v.id
		}
		obj := planner.ObjectiveFor(mode, nil, nil, nil, work, cat)
		p, err := planner.Make(planner.Input{
			Tasks: tasks, Catalog: cat, Objective: obj, Pool: pool, Now: s.now, Fixed: fixed,
			Knobs: planner.Knobs{WarmAheadSeconds: a.WarmAheadSeconds, MemoryHeadroom: a.MemoryHeadroom},
		})
		if err != nil {
			return nil, fmt.Errorf("re-plan: %w", err)
		}
		ep, err := fromPlannerPlan(p, cat, n)
		if err != nil {
			return nil, err
		}
		for i, v := range p.VMs {
			id, ok := byKey[v.PoolVMID]
			if !ok {
				id, ok = byKey[v.Key]
			}
			if ok {
				ep.vms[i].held = id + 1
			}
		}
		return ep, nil
	}
}
