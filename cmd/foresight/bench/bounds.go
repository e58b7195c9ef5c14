package bench

import (
	"math"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// minLaunchLatency is the shortest latency the simulator can draw for a VM that is not
// already hot: the floor quantile of the fastest warm or cold tier in the catalog.
func minLaunchLatency(cat catalog.Catalog) float64 {
	best := math.Inf(1)
	for _, t := range cat.Types {
		best = min(best, t.Warm.Quantile(latencyQuantileFloor), t.Cold.Quantile(latencyQuantileFloor))
	}
	if math.IsInf(best, 1) {
		return 0
	}
	return best
}

// makespanLowerBound is max(critical path, work / quota cores), plus the smallest launch
// latency when no VM is hot at the start.
func makespanLowerBound(tr *Trace, cat catalog.Catalog, hotAtStart bool) float64 {
	lb := criticalPath(tr, trueRuntimes(tr))
	if q := cat.Quotas.MaxCores; q > 0 {
		work, _ := totalWork(tr)
		lb = max(lb, work/q)
	}
	if !hotAtStart {
		lb += minLaunchLatency(cat)
	}
	return lb
}

// costLowerBound is the LP bound — the cheapest fractional mix of instance types whose
// core-seconds and byte-seconds cover the work — or one minimum charge if that is more.
// With two covering constraints an optimal basic solution uses at most two types, so the
// LP is solved exactly by trying every type and every pair.
func costLowerBound(tr *Trace, cat catalog.Catalog) float64 {
	c, m := totalWork(tr)
	best := math.Inf(1)
	minCharge := math.Inf(1)
	for i, a := range cat.Types {
		minCharge = min(minCharge, cat.BilledCost(a, 0))
		x := max(c/a.Cores, m/float64(a.MemoryBytes))
		best = min(best, x*a.PricePerSecond)
		for _, b := range cat.Types[i+1:] {
			ac, am, bc, bm := a.Cores, float64(a.MemoryBytes), b.Cores, float64(b.MemoryBytes)
			det := ac*bm - bc*am
			if det == 0 {
				continue
			}
			xa := (c*bm - bc*m) / det
			xb := (ac*m - c*am) / det
			if xa >= 0 && xb >= 0 {
				best = min(best, xa*a.PricePerSecond+xb*b.PricePerSecond)
			}
		}
	}
	if math.IsInf(best, 1) {
		return 0
	}
	return max(best, minCharge)
}
