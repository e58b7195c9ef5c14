package pool

import (
	"fmt"
	"math"
	"sort"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// Target is the standing pool for one instance type: how many VMs to keep running and idle
// (hot) and how many stopped (warm).
type Target struct {
	InstanceType string
	Hot, Warm    int
	Reason       string
}

// TargetOptions tune Targets.
type TargetOptions struct {
	// UseP90 sizes for the forecast's P90 demand instead of its mean, trading standby cost for
	// fewer late tasks.
	UseP90 bool
}

// Targets sets the standing hot and warm pool per instance type from a forecast of
// concurrent demand. demand maps a type to its forecast: a step function of cores and
// memory, each point holding from its OffsetSeconds (relative to now) until the next one.
//
// Demand that arrives sooner than a warm start can deliver (the type's warm P90 latency)
// must already be running: that peak sets Hot. Demand that arrives before a cold launch
// could be ready (the cold P90) but after a warm start could be sets Warm, net of Hot.
// Later demand needs no standing pool: a launch made ahead of it arrives in time.
//
// Running VMs count against the quotas and a warm pool is only useful if it may be started,
// so the hot and then the warm targets are capped so that hot + warm fits the quotas, types
// served in name order. Types missing from the catalog are skipped with a reason.
func Targets(demand map[string][]events.DemandPoint, cat catalog.Catalog, opts TargetOptions) []Target {
	names := make([]string, 0, len(demand))
	for name := range demand {
		names = append(names, name)
	}
	sort.Strings(names)

	out := make([]Target, 0, len(names))
	vmsLeft, coresLeft := cat.Quotas.MaxVMs, cat.Quotas.MaxCores
	if vmsLeft <= 0 {
		vmsLeft = math.MaxInt
	}
	if coresLeft <= 0 {
		coresLeft = math.Inf(1)
	}
	type want struct {
		i         int
		it        catalog.InstanceType
		hot, warm int
	}
	wants := make([]want, 0, len(names))
	for _, name := range names {
		it, ok := cat.Type(name)
		if !ok {
			out = append(out, Target{InstanceType: name, Reason: "not in the catalog"})
			continue
		}
		pts := demand[name]
		hotVMs, hotPeak := vmsFor(peak(pts, it.Warm.P90Seconds, opts.UseP90), it)
		allVMs, allPeak := vmsFor(peak(pts, it.Cold.P90Seconds, opts.UseP90), it)
		warmVMs := max(allVMs-hotVMs, 0)
		out = append(out, Target{
			InstanceType: name,
			Reason: fmt.Sprintf("hot %d for %s within the warm lead %.0f s; warm %d more for %s within the cold lead %.0f s",
				hotVMs, hotPeak, it.Warm.P90Seconds, warmVMs, allPeak, it.Cold.P90Seconds),
		})
		wants = append(wants, want{i: len(out) - 1, it: it, hot: hotVMs, warm: warmVMs})
	}
	// Hot first across all types: it is what protects latency most.
	for _, w := range wants {
		n := fit(w.hot, w.it, &vmsLeft, &coresLeft)
		out[w.i].Hot = n
		if n < w.hot {
			out[w.i].Reason += fmt.Sprintf("; hot capped %d→%d by quotas", w.hot, n)
		}
	}
	for _, w := range wants {
		n := fit(w.warm, w.it, &vmsLeft, &coresLeft)
		out[w.i].Warm = n
		if n < w.warm {
			out[w.i].Reason += fmt.Sprintf("; warm capped %d→%d by quotas", w.warm, n)
		}
	}
	return out
}

// fit takes up to n VMs of it from the remaining quota.
func fit(n int, it catalog.InstanceType, vmsLeft *int, coresLeft *float64) int {
	n = min(n, *vmsLeft)
	if it.Cores > 0 {
		n = min(n, int(math.Floor(*coresLeft/it.Cores+1e-9)))
	}
	n = max(n, 0)
	*vmsLeft -= n
	*coresLeft -= float64(n) * it.Cores
	return n
}

type demandPeak struct {
	cores float64
	mem   int64
}

func (d demandPeak) String() string {
	return fmt.Sprintf("%.1f cores/%.1f GiB", d.cores, float64(d.mem)/float64(catalog.GiB))
}

// peak is the largest demand in force at any time in [0, horizon]. Points are a step
// function; the one in force at 0 is the last with a non-positive offset.
func peak(pts []events.DemandPoint, horizon float64, useP90 bool) demandPeak {
	sorted := append([]events.DemandPoint(nil), pts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].OffsetSeconds < sorted[j].OffsetSeconds })
	var p demandPeak
	for i, pt := range sorted {
		if pt.OffsetSeconds > horizon {
			break
		}
		// A point superseded before time 0 was never in force in the window.
		if i+1 < len(sorted) && sorted[i+1].OffsetSeconds <= 0 {
			continue
		}
		cores, mem := pt.Cores, pt.MemoryBytes
		if useP90 {
			cores, mem = max(cores, pt.CoresP90), max(mem, pt.MemoryBytesP90)
		}
		p.cores = max(p.cores, cores)
		p.mem = max(p.mem, mem)
	}
	return p
}

// vmsFor is how many VMs of it cover d in both cores and memory.
func vmsFor(d demandPeak, it catalog.InstanceType) (int, demandPeak) {
	n := 0
	if it.Cores > 0 && d.cores > 0 {
		n = int(math.Ceil(d.cores/it.Cores - 1e-9))
	}
	if it.MemoryBytes > 0 && d.mem > 0 {
		n = max(n, int((d.mem+it.MemoryBytes-1)/it.MemoryBytes))
	}
	return n, d
}
