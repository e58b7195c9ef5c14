package bench

import (
	"github.com/foresight-run/foresight/pkg/bounds"
	"github.com/foresight-run/foresight/pkg/catalog"
)

// boundTasks is tr with durations dur, as package bounds reads a workflow.
func boundTasks(tr *Trace, dur []float64) []bounds.Task {
	out := make([]bounds.Task, len(tr.Tasks))
	for i, t := range tr.Tasks {
		out[i] = bounds.Task{Parents: t.Parents, Seconds: dur[i], Cores: t.CPU, MemoryBytes: t.Memory}
	}
	return out
}

// makespanLowerBound is bounds.Makespan of tr's recorded run: the same bound the
// predictor rewards the policy against in production.
func makespanLowerBound(tr *Trace, cat catalog.Catalog, hotAtStart bool) float64 {
	return bounds.Makespan(boundTasks(tr, trueRuntimes(tr)), cat, hotAtStart)
}

// costLowerBound is bounds.Cost of tr's recorded run.
func costLowerBound(tr *Trace, cat catalog.Catalog) float64 {
	return bounds.Cost(boundTasks(tr, trueRuntimes(tr)), cat)
}
