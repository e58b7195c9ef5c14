package bench

import (
	"math"
	"sort"

	"github.com/foresight-run/foresight/pkg/bounds"
)

// criticalPath is the longest path through the DAG weighted by dur (seconds).
func criticalPath(tr *Trace, dur []float64) float64 {
	return bounds.CriticalPath(boundTasks(tr, dur))
}

// trueRuntimes returns the recorded runtimes.
func trueRuntimes(tr *Trace) []float64 {
	d := make([]float64, len(tr.Tasks))
	for i, t := range tr.Tasks {
		d[i] = t.Runtime
	}
	return d
}

// asapPeak is the peak concurrent cores and memory when every task starts at its earliest
// start on unlimited machines: what a pool must hold to reach the critical path.
func asapPeak(tr *Trace) (cores float64, mem int64) {
	finish := make([]float64, len(tr.Tasks))
	type edge struct {
		t     float64
		cores float64
		mem   int64
	}
	edges := make([]edge, 0, 2*len(tr.Tasks))
	for _, v := range tr.Order {
		start := 0.0
		for _, p := range tr.Tasks[v].Parents {
			start = max(start, finish[p])
		}
		t := tr.Tasks[v]
		finish[v] = start + t.Runtime
		if t.Runtime <= 0 {
			continue
		}
		edges = append(edges, edge{start, t.CPU, t.Memory}, edge{finish[v], -t.CPU, -t.Memory})
	}
	// Ends before starts at the same instant: a finishing task frees its room.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].t != edges[j].t {
			return edges[i].t < edges[j].t
		}
		return edges[i].cores < edges[j].cores
	})
	var c float64
	var m int64
	for _, e := range edges {
		c += e.cores
		m += e.mem
		cores = max(cores, c)
		mem = max(mem, m)
	}
	return cores, mem
}

func logRatio(a, b float64) float64 {
	if !(a > 0) || !(b > 0) {
		return 0
	}
	return math.Log(a / b)
}
