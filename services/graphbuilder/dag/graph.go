package dag

import (
	"fmt"
	"slices"
	"strings"

	"github.com/foresight-run/foresight/pkg/events"
)

// Graph is an immutable task graph in CSR form. Task i is tasks[i] of the slice given to
// New; its parents are the tasks it depends on and its children the tasks that depend on it.
type Graph struct {
	ids   []string
	index map[string]int32
	// parentOff[i]..parentOff[i+1] indexes parents, likewise for children.
	parentOff []int32
	parents   []int32
	childOff  []int32
	children  []int32
	// order is a topological order, nil when the graph has a cycle.
	order []int32
}

// maxCycleReport bounds how many tasks a cycle problem lists, so that a cycle through
// 100,000 tasks does not become a megabyte error message.
const maxCycleReport = 64

// New builds the graph of tasks. Duplicate dependencies of one task are merged. It
// returns the problems it found — duplicate ids, unknown dependencies, self-dependencies
// and one cycle reported as a path — and a graph that is usable for analysis only when
// there are no problems.
func New(tasks []events.Task) (*Graph, []events.Problem) {
	n := len(tasks)
	g := &Graph{
		ids:       make([]string, n),
		index:     make(map[string]int32, n),
		parentOff: make([]int32, n+1),
		childOff:  make([]int32, n+1),
	}
	var problems []events.Problem
	for i := range tasks {
		id := tasks[i].ID
		g.ids[i] = id
		if _, dup := g.index[id]; dup {
			problems = append(problems, events.Problem{Task: id, Field: fmt.Sprintf("tasks[%d].id", i), Reason: "duplicate task id"})
			continue
		}
		g.index[id] = int32(i)
	}

	edges := 0
	for i := range tasks {
		edges += len(tasks[i].DependsOn)
	}
	g.parents = make([]int32, 0, edges)
	for i := range tasks {
		start := len(g.parents)
		for _, dep := range tasks[i].DependsOn {
			p, ok := g.index[dep]
			switch {
			case !ok:
				problems = append(problems, events.Problem{Task: tasks[i].ID, Field: fmt.Sprintf("tasks[%d].depends_on", i),
					Reason: fmt.Sprintf("unknown dependency %q", dep)})
				continue
			case int(p) == i || dep == tasks[i].ID:
				problems = append(problems, events.Problem{Task: tasks[i].ID, Field: fmt.Sprintf("tasks[%d].depends_on", i),
					Reason: "task depends on itself"})
				continue
			}
			g.parents = append(g.parents, p)
		}
		ps := g.parents[start:]
		if len(ps) > 1 {
			slices.Sort(ps)
			ps = slices.Compact(ps)
			g.parents = g.parents[:start+len(ps)]
		}
		g.parentOff[i+1] = int32(len(g.parents))
	}
	g.parents = slices.Clip(g.parents)

	// Children are the transpose: count, prefix-sum, fill. Filling in parent order
	// (ascending child index) leaves every child list sorted.
	for _, p := range g.parents {
		g.childOff[p+1]++
	}
	for i := 0; i < n; i++ {
		g.childOff[i+1] += g.childOff[i]
	}
	g.children = make([]int32, len(g.parents))
	next := make([]int32, n)
	copy(next, g.childOff[:n])
	for c := 0; c < n; c++ {
		for _, p := range g.parents[g.parentOff[c]:g.parentOff[c+1]] {
			g.children[next[p]] = int32(c)
			next[p]++
		}
	}

	if cycle := g.topoSort(next); cycle != nil {
		problems = append(problems, cycleProblem(g, cycle))
	}
	return g, problems
}

// topoSort runs Kahn's algorithm, storing the order, or returns one cycle when the graph
// has one. scratch is a reusable []int32 of length Len().
func (g *Graph) topoSort(scratch []int32) []int32 {
	n := g.Len()
	indeg := scratch
	for i := 0; i < n; i++ {
		indeg[i] = g.parentOff[i+1] - g.parentOff[i]
	}
	order := make([]int32, 0, n)
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			order = append(order, int32(i))
		}
	}
	// order doubles as the FIFO queue: everything before head has been expanded.
	for head := 0; head < len(order); head++ {
		for _, c := range g.Children(int(order[head])) {
			indeg[c]--
			if indeg[c] == 0 {
				order = append(order, c)
			}
		}
	}
	if len(order) == n {
		g.order = order
		return nil
	}
	return g.findCycle(indeg)
}

// findCycle returns one cycle among the tasks Kahn's algorithm could not order (those
// with indeg > 0). Every such task has an unordered parent, so walking parents from any
// of them must revisit a task; the walk from that task's first visit is the cycle.
func (g *Graph) findCycle(indeg []int32) []int32 {
	start := -1
	for i, d := range indeg {
		if d > 0 {
			start = i
			break
		}
	}
	if start < 0 {
		return nil
	}
	seenAt := make(map[int32]int)
	var walk []int32
	cur := int32(start)
	for {
		if at, ok := seenAt[cur]; ok {
			cycle := walk[at:]
			// The walk followed parents; reverse so the path reads in dependency order
			// (a -> b means b depends on a).
			slices.Reverse(cycle)
			// Start at the lowest index so the report does not depend on where the walk
			// entered the cycle.
			low := 0
			for k, v := range cycle {
				if v < cycle[low] {
					low = k
				}
			}
			return append(slices.Clone(cycle[low:]), cycle[:low]...)
		}
		seenAt[cur] = len(walk)
		walk = append(walk, cur)
		next := int32(-1)
		for _, p := range g.Parents(int(cur)) {
			if indeg[p] > 0 {
				next = p
				break
			}
		}
		if next < 0 {
			return nil // unreachable for a consistent graph
		}
		cur = next
	}
}

func cycleProblem(g *Graph, cycle []int32) events.Problem {
	var b strings.Builder
	shown := cycle
	if len(shown) > maxCycleReport {
		shown = shown[:maxCycleReport]
	}
	for _, v := range shown {
		b.WriteString(g.ids[v])
		b.WriteString(" -> ")
	}
	if len(shown) < len(cycle) {
		fmt.Fprintf(&b, "... (%d more) -> ", len(cycle)-len(shown))
	}
	b.WriteString(g.ids[cycle[0]])
	return events.Problem{Task: g.ids[cycle[0]], Field: fmt.Sprintf("tasks[%d].depends_on", cycle[0]), Reason: "cycle: " + b.String()}
}

// Len is the number of tasks.
func (g *Graph) Len() int { return len(g.ids) }

// ID is the id of task i.
func (g *Graph) ID(i int) string { return g.ids[i] }

// Index is the index of the task with the given id.
func (g *Graph) Index(id string) (int, bool) {
	i, ok := g.index[id]
	return int(i), ok
}

// Parents are the tasks task i depends on, ascending. The slice is shared: do not modify.
func (g *Graph) Parents(i int) []int32 { return g.parents[g.parentOff[i]:g.parentOff[i+1]] }

// Children are the tasks that depend on task i, ascending. The slice is shared: do not
// modify.
func (g *Graph) Children(i int) []int32 { return g.children[g.childOff[i]:g.childOff[i+1]] }

// Edges is the number of distinct dependency edges.
func (g *Graph) Edges() int { return len(g.parents) }

// Order is a topological order (parents before children, ties by index), or nil when the
// graph has a cycle. The slice is shared: do not modify.
func (g *Graph) Order() []int32 { return g.order }

// Acyclic reports whether the graph has a topological order.
func (g *Graph) Acyclic() bool { return g.order != nil || g.Len() == 0 }
