package dag

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

// FuzzGraph reads a graph from bytes — data[0] picks the task count, each following pair
// (from, to) adds "to depends on from" — builds it and, when it is valid, checks the
// analysis: every task finishes by the critical path, no slack is negative, and the
// critical path is a chain of dependencies whose durations sum to its length.
func FuzzGraph(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		n := int(data[0])%24 + 1
		tasks := make([]events.Task, n)
		durations := make([]float64, n)
		for i := range tasks {
			tasks[i] = events.Task{ID: fmt.Sprint("t", i)}
			durations[i] = float64(i%5) * 1.5
		}
		for k := 1; k+1 < len(data); k += 2 {
			from, to := int(data[k])%(n+1), int(data[k+1])%n
			dep := "ghost"
			if from < n {
				dep = tasks[from].ID
			}
			tasks[to].DependsOn = append(tasks[to].DependsOn, dep)
		}
		g, problems := New(tasks)
		for _, p := range problems {
			require.NotEmpty(t, p.Reason)
			if strings.HasPrefix(p.Reason, "cycle: ") {
				require.False(t, g.Acyclic())
			}
		}
		if !g.Acyclic() {
			return
		}
		require.Len(t, g.Order(), n)
		pos := make([]int, n)
		for k, v := range g.Order() {
			pos[v] = k
		}
		for v := range n {
			for _, p := range g.Parents(v) {
				require.Less(t, pos[p], pos[v], "topological order")
				require.Contains(t, g.Children(int(p)), int32(v), "children mirror parents")
			}
		}
		a := Analyze(g, durations, nil, nil)
		sum := 0.0
		for k, v := range a.CriticalPath {
			sum += durations[v]
			if k > 0 {
				require.Contains(t, g.Parents(int(v)), a.CriticalPath[k-1])
			}
		}
		require.InDelta(t, a.CriticalPathSeconds, sum, 1e-9)
		for i := range n {
			require.LessOrEqual(t, a.Start[i]+durations[i], a.CriticalPathSeconds+1e-9)
			require.GreaterOrEqual(t, a.Slack[i], 0.0)
			require.False(t, math.IsNaN(a.UpwardRank[i]))
		}
	})
}
