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
	return func(dp events.DemandPredicted) (events.PlanReady, error) {
		g := dp.Graph
		if len(g.Tasks) == 0 {
			return events.PlanReady{}, fmt.Errorf("workflow %s has no tasks", dp.WorkflowID)
		}
		cores, mem := math.Max(g.PeakCores, 1), max(g.PeakMemoryBytes, 1<<30)
		for _, t := range g.Tasks {
			cores, mem = math.Max(cores, t.CPU), max(mem, t.MemoryBytes)
		}
		cores, mem = math.Min(cores, hostCores), min(mem, hostMemory)
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
