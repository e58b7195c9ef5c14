// Package bounds computes the lower bounds a finished workflow's makespan and cost are
// scored against: by the benchmark, and by the predictor when it rewards the policy. Both
// depend only on the workflow and the catalog, never on how it was planned, so a reward
// measured against them cannot be gamed by a plan that pads its own forecast.
package bounds

import (
	"math"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// LatencyFloorQuantile is the latency quantile below which no VM start is counted on: the
// benchmark's simulator never draws a faster start, so the bounds hold there exactly.
const LatencyFloorQuantile = 0.01

// Task is one task of a finished workflow: how long it ran, what it requested, and its
// parents as indices into the same slice.
type Task struct {
	Parents     []int
	Seconds     float64
	Cores       float64
	MemoryBytes int64
}

// Makespan is max(critical path, work / quota cores), plus the shortest launch latency
// (MinLaunchLatency) when no VM was hot at the start. Tasks on a dependency cycle, which a
// validated workflow cannot have, are left out of the critical path.
func Makespan(tasks []Task, cat catalog.Catalog, hotAtStart bool) float64 {
	lb := CriticalPath(tasks)
	if q := cat.Quotas.MaxCores; q > 0 {
		work, _ := Work(tasks)
		lb = max(lb, work/q)
	}
	if !hotAtStart {
		lb += MinLaunchLatency(cat)
	}
	return lb
}

// CriticalPath is the longest chain of task runtimes through the dependencies.
func CriticalPath(tasks []Task) float64 {
	indeg := make([]int, len(tasks))
	children := make([][]int, len(tasks))
	for i, t := range tasks {
		for _, p := range t.Parents {
			if p >= 0 && p < len(tasks) {
				indeg[i]++
				children[p] = append(children[p], i)
			}
		}
	}
	queue := make([]int, 0, len(tasks))
	for i, d := range indeg {
		if d == 0 {
			queue = append(queue, i)
		}
	}
	start := make([]float64, len(tasks))
	best := 0.0
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		finish := start[v] + tasks[v].Seconds
		best = max(best, finish)
		for _, c := range children[v] {
			start[c] = max(start[c], finish)
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	return best
}

// Work is the workflow's core-seconds and byte-seconds: each task's runtime times what it
// requested.
func Work(tasks []Task) (coreSeconds, byteSeconds float64) {
	for _, t := range tasks {
		coreSeconds += t.Cores * t.Seconds
		byteSeconds += float64(t.MemoryBytes) * t.Seconds
	}
	return coreSeconds, byteSeconds
}

// MinLaunchLatency is the shortest start the catalog's latency model allows for a VM that
// is not already hot: the floor quantile of the fastest warm or cold tier.
func MinLaunchLatency(cat catalog.Catalog) float64 {
	best := math.Inf(1)
	for _, t := range cat.Types {
		best = min(best, t.Warm.Quantile(LatencyFloorQuantile), t.Cold.Quantile(LatencyFloorQuantile))
	}
	if math.IsInf(best, 1) {
		return 0
	}
	return best
}

// Cost is the LP bound — the cheapest fractional mix of instance types whose core-seconds
// and byte-seconds cover the work — or one minimum charge if that is more. With two
// covering constraints an optimal basic solution uses at most two types, so the LP is
// solved exactly by trying every type and every pair.
func Cost(tasks []Task, cat catalog.Catalog) float64 {
	c, m := Work(tasks)
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
