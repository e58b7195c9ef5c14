package planner

import (
	"fmt"
	"math"
)

// graph is the DAG in compressed form: children of task i are kids[off[i]:off[i+1]].
type graph struct {
	off  []int32
	kids []int32
	// order is a topological order (parents first).
	order []int32
}

// buildGraph validates parents and returns the children lists and a topological order
// (Kahn's algorithm, smallest index first among ties so the order is deterministic).
func buildGraph(tasks []Task) (graph, error) {
	n := len(tasks)
	if n > math.MaxInt32 {
		return graph{}, fmt.Errorf("%w: %d tasks is more than the planner indexes", ErrInvalidInput, n)
	}
	off := make([]int32, n+1)
	edges := 0
	for i, t := range tasks {
		for _, p := range t.Parents {
			if p < 0 || int(p) >= n {
				return graph{}, fmt.Errorf("%w: task %d (%s): parent %d out of range", ErrInvalidInput, i, t.ID, p)
			}
			if int(p) == i {
				return graph{}, fmt.Errorf("%w: task %d (%s) is its own parent", ErrInvalidInput, i, t.ID)
			}
			off[p+1]++
			edges++
		}
	}
	for i := 0; i < n; i++ {
		off[i+1] += off[i]
	}
	kids := make([]int32, edges)
	fill := make([]int32, n)
	copy(fill, off[:n])
	indeg := make([]int32, n)
	for i, t := range tasks {
		for _, p := range t.Parents {
			kids[fill[p]] = int32(i)
			fill[p]++
		}
		indeg[i] = int32(len(t.Parents))
	}
	// Kahn with a FIFO over indices: tasks enter in index order, so the result depends only
	// on the input.
	order := make([]int32, 0, n)
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			order = append(order, int32(i))
		}
	}
	for h := 0; h < len(order); h++ {
		u := order[h]
		for _, c := range kids[off[u]:off[u+1]] {
			indeg[c]--
			if indeg[c] == 0 {
				order = append(order, c)
			}
		}
	}
	if len(order) != n {
		return graph{}, fmt.Errorf("%w: the task graph has a cycle (%d of %d tasks ordered)", ErrInvalidInput, len(order), n)
	}
	return graph{off: off, kids: kids, order: order}, nil
}

// upwardRanks returns HEFT's upward rank of every task: its duration plus the longest
// chain of durations after it to an exit task (Topcuoglu et al. 2002, with zero
// communication cost since tasks share storage, not links).
func (g graph) upwardRanks(dur []float64) []float64 {
	rank := make([]float64, len(dur))
	for k := len(g.order) - 1; k >= 0; k-- {
		u := g.order[k]
		best := 0.0
		for _, c := range g.kids[g.off[u]:g.off[u+1]] {
			if rank[c] > best {
				best = rank[c]
			}
		}
		rank[u] = dur[u] + best
	}
	return rank
}
