package planner

import (
	"github.com/foresight-run/foresight/pkg/catalog"
)

// Cost is what the plan's VMs are billed, in USD, under the catalog's rule: each run is
// billed per second from when it is running (ReadyAt: EC2 bills from the running state,
// not while the launch is pending) to its release, never less than MinimumBillSeconds
// (catalog.BilledCost); idle time inside a run is billed like busy time; a machine stopped
// between two runs pays its warm (storage) cost for the gap. Types the catalog does not
// list cost nothing.
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
		total += cat.BilledCost(*t, v.ReleaseAt-v.ReadyAt)
		if v.Resumes >= 0 && v.Resumes < len(plan.VMs) {
			total += t.WarmCostPerSecond * max(0, v.RequestAt-plan.VMs[v.Resumes].ReleaseAt)
		}
	}
	return total
}
