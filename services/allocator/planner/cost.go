package planner

import (
	"math"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// Cost is what the plan's VMs are billed, in USD, under the catalog's rule: a launch or a
// start is billed per second from its request (start-up included, as EC2 bills from the
// instance's start) to its release, never less than MinimumBillSeconds; a hot VM the plan
// claims or already holds is billed from when it is claimed, with no new minimum; idle time
// inside a run is billed like busy time; a machine stopped between two runs pays its warm
// (storage) cost for the gap. Types the catalog does not list cost nothing.
func Cost(plan Plan, cat catalog.Catalog) float64 {
	types := make(map[string]*catalog.InstanceType, len(cat.Types))
	for k := range cat.Types {
		types[cat.Types[k].Name] = &cat.Types[k]
	}
	total := 0.0
	for _, v := range plan.VMs {
		t, ok := types[v.InstanceType]
		if !ok {
			continue
		}
		if v.Tier == events.TierHot && v.Resumes < 0 {
			total += t.PricePerSecond * math.Max(0, v.ReleaseAt-v.ReadyAt)
		} else {
			total += cat.BilledCost(*t, v.ReleaseAt-v.RequestAt)
		}
		if v.Resumes >= 0 && v.Resumes < len(plan.VMs) {
			total += t.WarmCostPerSecond * math.Max(0, v.RequestAt-plan.VMs[v.Resumes].ReleaseAt)
		}
	}
	return total
}
