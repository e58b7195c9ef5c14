package estimate

import (
	"fmt"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/graphbuilder/dag"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

// Options tune Annotate.
type Options struct {
	// GlobalPriorSeconds is the last resort of the estimate chain; 0 means
	// DefaultGlobalPriorSeconds.
	GlobalPriorSeconds float64
	// UseTraceRuntimes makes a replay task's recorded runtime (ReplaySeconds, even 0) its
	// estimate, with source "trace". Analysing a trace (foresight analyze) wants this; the service
	// must not, because predictions scored against a replayed run may not see its answers.
	UseTraceRuntimes bool
}

// Annotate is the graph builder's decision: it estimates every task's runtime, analyses
// the graph under those estimates and returns the graph-built payload (tasks in
// topological order, each with its signature, level, upward rank, slack, critical-path
// flag and estimate with source) together with the full analysis. w must be valid
// (spec.Parse or spec.Validate accepted it); otherwise the graph's problems are returned
// as a *spec.Error.
func Annotate(workflowID string, w *spec.Workflow, h History, opt Options) (events.GraphBuilt, dag.Analysis, error) {
	g, problems := dag.New(w.Tasks)
	if len(problems) > 0 {
		return events.GraphBuilt{}, dag.Analysis{}, fmt.Errorf("annotate %s: %w", workflowID, &spec.Error{Problems: problems})
	}
	n := g.Len()
	durations := make([]float64, n)
	cpu := make([]float64, n)
	mem := make([]int64, n)
	sigs := make([]string, n)
	sources := make([]string, n)
	for i, t := range w.Tasks {
		cpu[i], mem[i] = t.CPU, t.MemoryBytes
		sigs[i] = dag.Signature(w.Family, t)
		// A replay task recorded as taking 0 s took 0 s; it is not missing an estimate.
		replay := t.ReplaySeconds > 0 || (len(t.Command) > 0 && t.Command[0] == spec.ReplayCommand)
		if opt.UseTraceRuntimes && replay {
			durations[i], sources[i] = t.ReplaySeconds, SourceTrace
			continue
		}
		durations[i], sources[i] = Estimate(t, sigs[i], w.Family, h, opt.GlobalPriorSeconds)
	}
	a := dag.Analyze(g, durations, cpu, mem)

	onPath := make([]bool, n)
	for _, v := range a.CriticalPath {
		onPath[v] = true
	}
	gb := events.GraphBuilt{
		WorkflowID:           workflowID,
		Name:                 w.Name,
		Family:               w.Family,
		Objective:            w.Objective,
		Tasks:                make([]events.GraphTask, 0, n),
		Edges:                g.Edges(),
		Levels:               a.Levels,
		PeakWidth:            a.PeakWidth,
		CriticalPath:         make([]string, len(a.CriticalPath)),
		CriticalPathSeconds:  a.CriticalPathSeconds,
		TotalWorkCoreSeconds: a.TotalWorkCoreSeconds,
		PeakCores:            a.PeakCores,
		PeakMemoryBytes:      a.PeakMemoryBytes,
	}
	for k, v := range a.CriticalPath {
		gb.CriticalPath[k] = g.ID(int(v))
	}
	for _, v := range a.Order {
		gb.Tasks = append(gb.Tasks, events.GraphTask{
			Task:            w.Tasks[v],
			Signature:       sigs[v],
			Level:           int(a.Level[v]),
			UpwardRank:      a.UpwardRank[v],
			SlackSeconds:    a.Slack[v],
			OnCriticalPath:  onPath[v],
			EstimateSeconds: durations[v],
			EstimateSource:  sources[v],
		})
	}
	return gb, a, nil
}
