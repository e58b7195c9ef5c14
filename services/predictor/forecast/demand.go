package forecast

import (
	"fmt"
	"math"
	"slices"

	"github.com/foresight-run/foresight/pkg/events"
)

// TaskDemand is one task as the demand simulation needs it. Parents index into the same
// slice.
type TaskDemand struct {
	Parents     []int32
	CPU         float64
	MemoryBytes int64
	// P50 and P90 are predicted runtimes in seconds.
	P50, P90 float64
}

// Curve is a workflow's predicted demand over its life: a step function whose value holds
// from each point's offset until the next point. The last point is where all demand ends
// (the P90 makespan, unless the last tasks to run need no cores or memory).
type Curve struct {
	Points                   []events.DemandPoint
	MakespanP50, MakespanP90 float64
}

// Demand simulates ASAP execution on unbounded capacity on P50 and on P90 runtimes and
// returns the demand step function with its P90 band. order must be a topological order of
// tasks; nil means the tasks are already in one. Parents out of range or later in the order
// are ignored rather than trusted, so a bad graph degrades the curve instead of panicking.
func Demand(tasks []TaskDemand, order []int32) Curve {
	if len(tasks) == 0 {
		return Curve{}
	}
	if order == nil {
		order = make([]int32, len(tasks))
		for i := range order {
			order[i] = int32(i)
		}
	}
	s50 := asap(tasks, order, func(t TaskDemand) float64 { return t.P50 })
	s90 := asap(tasks, order, func(t TaskDemand) float64 { return max(t.P90, t.P50) })

	times := make([]float64, 0, 4*len(tasks))
	for _, s := range []schedule{s50, s90} {
		for i := range tasks {
			times = append(times, s.start[i], s.finish[i])
		}
	}
	slices.Sort(times)
	times = slices.Compact(times)

	c50, m50 := s50.profile(tasks, times)
	c90, m90 := s90.profile(tasks, times)
	pts := make([]events.DemandPoint, 0, len(times))
	for i, t := range times {
		p := events.DemandPoint{
			OffsetSeconds:  t,
			Cores:          c50[i],
			CoresP90:       max(c50[i], c90[i]),
			MemoryBytes:    m50[i],
			MemoryBytesP90: max(m50[i], m90[i]),
		}
		// Merge steps that do not change anything; the curve stays minimal.
		if n := len(pts); n > 0 {
			q := pts[n-1]
			if q.Cores == p.Cores && q.CoresP90 == p.CoresP90 && q.MemoryBytes == p.MemoryBytes && q.MemoryBytesP90 == p.MemoryBytesP90 {
				continue
			}
		}
		pts = append(pts, p)
	}
	return Curve{Points: pts, MakespanP50: s50.makespan, MakespanP90: s90.makespan}
}

type schedule struct {
	start, finish []float64
	makespan      float64
}

func asap(tasks []TaskDemand, order []int32, dur func(TaskDemand) float64) schedule {
	n := len(tasks)
	s := schedule{start: make([]float64, n), finish: make([]float64, n)}
	done := make([]bool, n)
	for _, id := range order {
		if id < 0 || int(id) >= n || done[id] {
			continue
		}
		t := tasks[id]
		st := 0.0
		for _, p := range t.Parents {
			if p >= 0 && int(p) < n && done[p] {
				st = max(st, s.finish[p])
			}
		}
		d := dur(t)
		if !(d > 0) || math.IsInf(d, 0) {
			d = 0
		}
		s.start[id], s.finish[id] = st, st+d
		s.makespan = max(s.makespan, st+d)
		done[id] = true
	}
	return s
}

// profile evaluates the schedule's running cores and memory on [times[i], times[i+1]).
func (s schedule) profile(tasks []TaskDemand, times []float64) ([]float64, []int64) {
	dc := make([]float64, len(times))
	dm := make([]int64, len(times))
	for i, t := range tasks {
		if s.finish[i] <= s.start[i] {
			continue
		}
		a, _ := slices.BinarySearch(times, s.start[i])
		b, _ := slices.BinarySearch(times, s.finish[i])
		dc[a] += t.CPU
		dm[a] += t.MemoryBytes
		dc[b] -= t.CPU
		dm[b] -= t.MemoryBytes
	}
	var c float64
	var m int64
	for i := range times {
		c += dc[i]
		m += dm[i]
		// Float sums of +x and -x can leave 1e-16 residue; demand is never negative.
		if math.Abs(c) < 1e-9 {
			c = 0
		}
		dc[i], dm[i] = c, m
	}
	return dc, dm
}

// Contention returns the spans where the P90 demand band exceeds the pool's forecast
// capacity (cores) or the memory quota. A non-positive capacity means unlimited. Reason
// names the exceeded resources and says "p50" when even the median demand exceeds them,
// which tells the allocator the shortfall is likely rather than a tail risk.
func Contention(c Curve, capacityCores float64, capacityMemory int64) []events.Window {
	var out []events.Window
	for i, p := range c.Points {
		end := p.OffsetSeconds
		if i+1 < len(c.Points) {
			end = c.Points[i+1].OffsetSeconds
		}
		if end <= p.OffsetSeconds {
			continue
		}
		overCores := capacityCores > 0 && p.CoresP90 > capacityCores+1e-9
		overMem := capacityMemory > 0 && p.MemoryBytesP90 > capacityMemory
		if !overCores && !overMem {
			continue
		}
		likely := (capacityCores > 0 && p.Cores > capacityCores+1e-9) || (capacityMemory > 0 && p.MemoryBytes > capacityMemory)
		reason := reasonFor(overCores, overMem, likely)
		if n := len(out); n > 0 && out[n-1].EndSeconds == p.OffsetSeconds && out[n-1].Reason == reason {
			out[n-1].EndSeconds = end
			out[n-1].Cores = max(out[n-1].Cores, p.CoresP90)
			continue
		}
		out = append(out, events.Window{
			StartSeconds: p.OffsetSeconds, EndSeconds: end,
			Cores: p.CoresP90, CapacityCores: capacityCores, Reason: reason,
		})
	}
	return out
}

func reasonFor(cores, mem, likely bool) string {
	r := "cores"
	switch {
	case cores && mem:
		r = "cores+memory"
	case mem:
		r = "memory"
	}
	band := "p90"
	if likely {
		band = "p50"
	}
	return fmt.Sprintf("%s demand over capacity at %s", r, band)
}
