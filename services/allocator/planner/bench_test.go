package planner

import (
	"fmt"
	"testing"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// BenchmarkMake plans generated layered DAGs of 10,000 and 100,000 tasks (about four edges
// per task) and reports ns per task.
func BenchmarkMake(b *testing.B) {
	cat := catalog.Default()
	for _, n := range []int{10_000, 100_000} {
		tasks := layeredDAG(n, n/100, 1)
		work := 0.0
		for _, t := range tasks {
			work += t.CPU * t.Duration
		}
		in := Input{Tasks: tasks, Catalog: cat, Objective: ObjectiveFor(ModeBalanced, nil, nil, nil, work, cat)}
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Make(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
		})
	}
}
