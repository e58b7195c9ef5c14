package bench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/allocator/planner"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// planMaker plans the unstarted tasks of s's workflow at s.now, planned durations from
// dur: the allocator's planner in production (planWithPlanner).
type planMaker func(s *sim, a policy.Action, mode string, dur func(task int) float64) (*execPlan, error)

// defaultPlanMaker is the allocator's planner.
var defaultPlanMaker planMaker = planWithPlanner

// vmKey names a simulator VM to the planner; warmKey a member of the warm pool.
func vmKey(v *simVM) string { return v.name }
func warmKey(k int) string  { return "warm-" + strconv.Itoa(k) }

// planWithPlanner calls planner.Make as the allocator does: on demand-predicted (s.now = 0,
// nothing started) and on replan-requested. Tasks carry their requested cores and memory
// and the planned durations; the objective is the mode's, λ from the predicted work; the
// knobs are the chosen action's. Every started task is fixed where it runs (a running one
// until its predicted finish); the workflow's live VMs are offered as hot pool VMs (booting
// ones from their expected ready time) and the unclaimed members of the warm pool as warm
// ones.
func planWithPlanner(s *sim, a policy.Action, mode string, dur func(int) float64) (*execPlan, error) {
	tr, cat := s.tr, s.cat
	n := len(tr.Tasks)
	tasks := make([]planner.Task, n)
	work := 0.0
	var fixed []planner.FixedTask
	for i, t := range tr.Tasks {
		ps := make([]int32, len(t.Parents))
		for k, p := range t.Parents {
			ps[k] = int32(p)
		}
		d := t.Runtime // a finished task: only its VM and times matter
		if !s.doneTask[i] {
			d = dur(i)
		}
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
	held := map[string]int{}
	for _, v := range s.vms {
		held[vmKey(v)] = v.id // finished tasks' machines appear in the plan too
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
	}
	if wp := s.warm; wp != nil {
		for k, claimed := range wp.claimed {
			if !claimed {
				pool = append(pool, planner.PoolVM{ID: warmKey(k), InstanceType: wp.types[k].Name, Tier: events.TierWarm, FreeAt: s.now})
			}
		}
	}
	obj := planner.ObjectiveFor(mode, nil, nil, nil, work, cat)
	p, err := planner.Make(planner.Input{
		Tasks: tasks, Catalog: cat, Objective: obj, Pool: pool, Now: s.now, Fixed: fixed,
		Knobs: planner.Knobs{WarmAheadSeconds: a.WarmAheadSeconds, MemoryHeadroom: a.MemoryHeadroom},
	})
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	ep := &execPlan{
		vms: make([]planVM, len(p.VMs)), vmOf: make([]int, n), start: make([]float64, n),
		finish: make([]float64, n), makespan: p.Makespan, cost: p.Cost,
	}
	for i, v := range p.VMs {
		typ, ok := cat.Type(v.InstanceType)
		if !ok {
			return nil, fmt.Errorf("plan VM %s: unknown instance type %q", v.Key, v.InstanceType)
		}
		pv := planVM{typ: typ, tier: v.Tier, requestAt: v.RequestAt, resumes: v.Resumes, warmMember: -1}
		if id, ok := held[v.PoolVMID]; ok {
			pv.held = id + 1
		} else if id, ok := held[v.Key]; ok {
			pv.held = id + 1
		} else if k, ok := strings.CutPrefix(v.PoolVMID, "warm-"); ok {
			if m, err := strconv.Atoi(k); err == nil {
				pv.warmMember = m
			}
		}
		ep.vms[i] = pv
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
