package allocator

import (
	"fmt"
	"math"

	"github.com/foresight-run/foresight/pkg/events"
)

// HostPlanner plans a workflow onto one machine of the given size: the shape of the local
// provider, where a "VM" is a slice of this host. The VM is sized to the workflow's
// predicted peak (never more than the host), requested at once, and every task is placed
// on it; dispatch then runs tasks as room frees up.
func HostPlanner(hostCores float64, hostMemory int64) Planner {
	return func(req PlanRequest) (events.PlanReady, error) {
		dp := req.Demand
		g := dp.Graph
		if len(g.Tasks) == 0 {
			return events.PlanReady{}, fmt.Errorf("workflow %s has no tasks", dp.WorkflowID)
		}
		cores, mem := math.Max(g.PeakCores, 1), max(g.PeakMemoryBytes, 1<<30)
		for _, t := range g.Tasks {
			cores, mem = math.Max(cores, t.CPU), max(mem, t.MemoryBytes)
		}
		cores, mem = math.Min(cores, hostCores), min(mem, hostMemory)
		if len(req.Held) > 0 {
			// A re-plan keeps the slice the workflow already holds; dispatch adapts.
			plan := events.PlanReady{WorkflowID: dp.WorkflowID, Version: req.Version,
				PredictedMakespanSeconds: dp.PredictedMakespanSeconds, Reason: "host planner: keep the held host slice"}
			for _, t := range g.Tasks {
				plan.Placements = append(plan.Placements, events.Placement{TaskID: t.ID, VMKey: req.Held[0].Key})
			}
			return plan, nil
		}
		key := events.DerivedID(dp.WorkflowID, "vm", "host", "1")
		plan := events.PlanReady{
			WorkflowID: dp.WorkflowID,
			VMRequests: []events.VMRequest{{
				Key: key, InstanceType: "local", Tier: events.TierCold, Cores: cores, MemoryBytes: mem,
				Reason: fmt.Sprintf("one host slice of %.1f cores for a predicted peak of %.1f", cores, g.PeakCores),
			}},
			PredictedMakespanSeconds: dp.PredictedMakespanSeconds,
			Reason:                   "host planner (local provider)",
		}
		for _, t := range g.Tasks {
			plan.Placements = append(plan.Placements, events.Placement{TaskID: t.ID, VMKey: key})
		}
		return plan, nil
	}
}
