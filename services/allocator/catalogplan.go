package allocator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/allocator/planner"
)

// CatalogPlanner plans over a cloud catalog with the HEFT planner: each task's predicted
// runtime at the quantile the policy chose, the policy's warm-ahead and memory headroom,
// the user's objective. On a re-plan, finished and running tasks stay on their VMs and
// the VMs the workflow holds are offered back to the planner as hot pool VMs; only VMs the
// new plan adds become VM requests.
func CatalogPlanner(cat catalog.Catalog) Planner {
	return func(req PlanRequest) (events.PlanReady, error) {
		dp := req.Demand
		g := dp.Graph
		index := make(map[string]int32, len(g.Tasks))
		for i, t := range g.Tasks {
			index[t.ID] = int32(i)
		}
		pred := make(map[string]events.TaskPrediction, len(dp.Predictions))
		for _, p := range dp.Predictions {
			pred[p.TaskID] = p
		}
		q := dp.Action.RuntimeQuantile
		tasks := make([]planner.Task, len(g.Tasks))
		for i, t := range g.Tasks {
			pt := planner.Task{ID: t.ID, CPU: t.CPU, MemoryBytes: t.MemoryBytes, Duration: t.EstimateSeconds}
			if p, ok := pred[t.ID]; ok {
				pt.Duration = planner.PlannedDuration(p, q)
				pt.MemoryBytes = max(pt.MemoryBytes, p.MemoryBytes)
			}
			for _, d := range t.DependsOn {
				pt.Parents = append(pt.Parents, index[d])
			}
			tasks[i] = pt
		}
		o := g.Objective
		in := planner.Input{
			Tasks:     tasks,
			Catalog:   cat,
			Objective: planner.ObjectiveFor(o.Mode, o.Lambda, o.DeadlineSeconds, o.BudgetUSD, g.TotalWorkCoreSeconds, cat),
			Knobs:     planner.Knobs{WarmAheadSeconds: dp.Action.WarmAheadSeconds, MemoryHeadroom: dp.Action.MemoryHeadroom},
			Now:       req.Now,
		}
		held := make(map[string]HeldVM, len(req.Held))
		for _, h := range req.Held {
			held[h.VMID] = h
			in.Pool = append(in.Pool, planner.PoolVM{ID: h.VMID, InstanceType: h.InstanceType, Tier: events.TierHot, FreeAt: req.Now})
		}
		var avoided []string
		for _, a := range req.Avoid {
			switch {
			case a.InstanceType == "" && a.Tier == "":
				// The whole provider is failing: no type may be launched or started.
				for _, t := range cat.Types {
					in.Avoid = append(in.Avoid, planner.Avoid{InstanceType: t.Name})
				}
				avoided = append(avoided, "every type (provider breaker open)")
			case a.InstanceType != "":
				in.Avoid = append(in.Avoid, planner.Avoid{InstanceType: a.InstanceType, Tier: a.Tier})
				avoided = append(avoided, a.Tier+" "+a.InstanceType)
			}
		}
		pooled := make(map[string]bool, len(req.Pool))
		for _, p := range req.Pool {
			pooled[p.VMID] = true
			in.Pool = append(in.Pool, planner.PoolVM{ID: p.VMID, InstanceType: p.InstanceType, Tier: p.Tier, FreeAt: req.Now})
		}
		for _, d := range req.Done {
			i, ok := index[d.TaskID]
			h, held := held[d.VMID]
			if !ok || !held {
				continue
			}
			in.Fixed = append(in.Fixed, planner.FixedTask{Task: i, VMKey: d.VMID, InstanceType: h.InstanceType, Start: d.Start, Finish: d.Finish})
		}
		plan, err := planner.Make(in)
		if err != nil {
			return events.PlanReady{}, err
		}
		out := events.PlanReady{WorkflowID: dp.WorkflowID, Version: req.Version, PredictedMakespanSeconds: plan.Makespan,
			PredictedCostUSD: plan.Cost, Contention: plan.Contention, Reason: plan.Reason}
		if len(avoided) > 0 {
			out.Reason = "circuit breaker open, avoiding " + strings.Join(avoided, ", ") + "; " + out.Reason
		}
		keys := make([]string, len(plan.VMs))
		for i, vm := range plan.VMs {
			if h, ok := held[vm.PoolVMID]; ok {
				keys[i] = h.Key // a VM the workflow holds: nothing to request
				continue
			}
			keys[i] = events.DerivedID(dp.WorkflowID, "plan", strconv.Itoa(req.Version), vm.Key)
			r := events.VMRequest{
				Key: keys[i], InstanceType: vm.InstanceType, Tier: vm.Tier, Cores: vm.Cores, MemoryBytes: vm.MemoryBytes,
				RequestAtSeconds: vm.RequestAt, ReadyBySeconds: vm.ReadyAt,
				Reason: fmt.Sprintf("%s; release at %.0fs (%s)", vm.Reason, vm.ReleaseAt, vm.Release),
			}
			if pooled[vm.PoolVMID] {
				r.PoolVMID = vm.PoolVMID // claim it from the standing pool
			}
			out.VMRequests = append(out.VMRequests, r)
		}
		for _, p := range plan.Placements {
			if p.VM < 0 || p.VM >= len(keys) {
				continue
			}
			out.Placements = append(out.Placements, events.Placement{TaskID: tasks[p.Task].ID, VMKey: keys[p.VM],
				StartSeconds: p.Start, FinishSeconds: p.Finish})
		}
		return out, nil
	}
}
