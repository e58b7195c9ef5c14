package dag

import (
	"cmp"
	"slices"
)

// WidthStep is one step of the ASAP width profile: from AtSeconds until the next step's
// AtSeconds, Tasks tasks run using Cores cores and MemoryBytes bytes.
type WidthStep struct {
	AtSeconds   float64 `json:"at_seconds"`
	Tasks       int     `json:"tasks"`
	Cores       float64 `json:"cores"`
	MemoryBytes int64   `json:"memory_bytes"`
}

// Analysis is what the graph builder learns from the graph and per-task durations under
// an ASAP schedule on unbounded machines. Per-task slices are indexed by task index.
type Analysis struct {
	// Order is a topological order.
	Order []int32
	// Level is the length of the longest chain of ancestors (sources are level 0), and
	// Levels the number of distinct levels.
	Level  []int32
	Levels int
	// Start is each task's earliest start time (ASAP).
	Start []float64
	// WidthProfile is the ASAP concurrency over time; PeakWidth its largest task count.
	WidthProfile []WidthStep
	PeakWidth    int
	// CriticalPath is one longest duration-weighted path, source to sink, and
	// CriticalPathSeconds its length: the makespan lower bound.
	CriticalPath        []int32
	CriticalPathSeconds float64
	// Slack is how long each task can be delayed past its earliest start without
	// lengthening the critical path; 0 on the critical path.
	Slack []float64
	// UpwardRank is HEFT's rank_u: the task's duration plus the longest path below it.
	UpwardRank []float64
	// TotalWorkCoreSeconds is Σ duration × cores: the cost lower bound's work.
	TotalWorkCoreSeconds float64
	// PeakCores and PeakMemoryBytes are the ASAP schedule's largest simultaneous demand
	// (the predicted footprint); each is its own maximum and they may occur at different
	// times.
	PeakCores       float64
	PeakMemoryBytes int64
}

// Analyze computes the analysis of an acyclic graph. durations[i] is task i's runtime in
// seconds (negative or NaN is treated as 0); cpu and memory may be nil, meaning one core
// and no memory per task. It panics when the graph has a cycle (New reported it) or a
// slice has the wrong length, which are programming errors.
func Analyze(g *Graph, durations []float64, cpu []float64, memory []int64) Analysis {
	n := g.Len()
	if len(durations) != n || (cpu != nil && len(cpu) != n) || (memory != nil && len(memory) != n) {
		panic("dag: Analyze: per-task slices must have one entry per task")
	}
	if !g.Acyclic() {
		panic("dag: Analyze: graph has a cycle")
	}
	dur := func(i int32) float64 {
		d := durations[i]
		if !(d > 0) { // also catches NaN
			return 0
		}
		return d
	}
	coresOf := func(i int32) float64 {
		if cpu == nil {
			return 1
		}
		return cpu[i]
	}
	memOf := func(i int32) int64 {
		if memory == nil {
			return 0
		}
		return memory[i]
	}

	a := Analysis{
		Order:      g.order,
		Level:      make([]int32, n),
		Start:      make([]float64, n),
		Slack:      make([]float64, n),
		UpwardRank: make([]float64, n),
	}
	if n == 0 {
		return a
	}

	// Forward pass: levels and earliest starts.
	maxLevel := int32(0)
	for _, v := range g.order {
		lvl, est := int32(0), 0.0
		for _, p := range g.Parents(int(v)) {
			lvl = max(lvl, a.Level[p]+1)
			est = max(est, a.Start[p]+dur(p))
		}
		a.Level[v], a.Start[v] = lvl, est
		maxLevel = max(maxLevel, lvl)
		a.TotalWorkCoreSeconds += dur(v) * coresOf(v)
	}
	a.Levels = int(maxLevel) + 1

	// Backward pass: upward rank. With zero communication cost the longest path through
	// v is Start[v] + UpwardRank[v], so slack falls out of the same pass.
	for k := n - 1; k >= 0; k-- {
		v := g.order[k]
		below := 0.0
		for _, c := range g.Children(int(v)) {
			below = max(below, a.UpwardRank[c])
		}
		a.UpwardRank[v] = dur(v) + below
		a.CriticalPathSeconds = max(a.CriticalPathSeconds, a.Start[v]+a.UpwardRank[v])
	}
	for i := range a.Slack {
		a.Slack[i] = max(0, a.CriticalPathSeconds-a.Start[i]-a.UpwardRank[i])
	}
	a.CriticalPath = criticalPath(g, a.UpwardRank, a.Start)

	a.WidthProfile = widthProfile(a.Start, dur, coresOf, memOf)
	for _, s := range a.WidthProfile {
		a.PeakWidth = max(a.PeakWidth, s.Tasks)
		a.PeakCores = max(a.PeakCores, s.Cores)
		a.PeakMemoryBytes = max(a.PeakMemoryBytes, s.MemoryBytes)
	}
	return a
}

// criticalPath starts at the source with the largest upward rank and follows, at each
// step, the child with the largest upward rank: since rank_u(v) = d(v) + max child rank,
// that walk stays on a longest path. Ties go to the lower index for determinism.
func criticalPath(g *Graph, rank, start []float64) []int32 {
	best := int32(-1)
	for i := range g.Len() {
		if start[i] == 0 && len(g.Parents(i)) == 0 && (best < 0 || rank[i] > rank[best]) {
			best = int32(i)
		}
	}
	path := []int32{best}
	for v := best; ; {
		next := int32(-1)
		for _, c := range g.Children(int(v)) {
			if next < 0 || rank[c] > rank[next] {
				next = c
			}
		}
		if next < 0 {
			return path
		}
		path = append(path, next)
		v = next
	}
}

// widthEvent is a task starting (delta +1) or finishing (delta -1) at time at.
type widthEvent struct {
	at    float64
	task  int32
	delta int8
}

// widthProfile sweeps the ASAP intervals [start, start+duration). Tasks of zero duration
// occupy no time and do not count. At equal times finishes are applied before starts, so
// a child starting exactly when its parent ends does not overlap it.
func widthProfile(start []float64, dur func(int32) float64, cores func(int32) float64, mem func(int32) int64) []WidthStep {
	ev := make([]widthEvent, 0, 2*len(start))
	for i := range start {
		d := dur(int32(i))
		if d == 0 {
			continue
		}
		ev = append(ev, widthEvent{start[i], int32(i), 1}, widthEvent{start[i] + d, int32(i), -1})
	}
	slices.SortFunc(ev, func(x, y widthEvent) int {
		if c := cmp.Compare(x.at, y.at); c != 0 {
			return c
		}
		return cmp.Compare(x.delta, y.delta)
	})
	steps := make([]WidthStep, 0, len(ev)/2+1)
	var cur WidthStep
	for k, e := range ev {
		cur.Tasks += int(e.delta)
		cur.Cores += float64(e.delta) * cores(e.task)
		cur.MemoryBytes += int64(e.delta) * mem(e.task)
		if k+1 < len(ev) && ev[k+1].at == e.at {
			continue
		}
		if cur.Tasks == 0 {
			// Summing many fractional cores drifts; an empty pool has exactly none.
			cur.Cores, cur.MemoryBytes = 0, 0
		}
		cur.AtSeconds = e.at
		if len(steps) > 0 && steps[len(steps)-1].Tasks == cur.Tasks && steps[len(steps)-1].Cores == cur.Cores &&
			steps[len(steps)-1].MemoryBytes == cur.MemoryBytes {
			continue
		}
		steps = append(steps, cur)
	}
	return steps
}
