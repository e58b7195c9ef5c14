package bench

import (
	"fmt"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/allocator/planner"
	"github.com/foresight-run/foresight/services/graphbuilder/dag"
	"github.com/foresight-run/foresight/services/predictor/model"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// graphOf builds the graph builder's view of a trace once.
func graphOf(tr *Trace) (*dag.Graph, error) {
	if tr.graph != nil {
		return tr.graph, nil
	}
	specs := make([]events.Task, len(tr.Tasks))
	for i := range tr.Tasks {
		specs[i] = tr.Tasks[i].Spec
	}
	g, problems := dag.New(specs)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: graph: %s: %s", tr.Name, problems[0].Field, problems[0].Reason)
	}
	tr.graph = g
	return g, nil
}

// analyze runs the graph builder's analysis on durations.
func analyze(tr *Trace, dur []float64) (dag.Analysis, error) {
	g, err := graphOf(tr)
	if err != nil {
		return dag.Analysis{}, err
	}
	cpu := make([]float64, len(tr.Tasks))
	mem := make([]int64, len(tr.Tasks))
	for i, t := range tr.Tasks {
		cpu[i], mem[i] = t.CPU, t.Memory
	}
	return dag.Analyze(g, dur, cpu, mem), nil
}

// agent is the foresight policy's learning state across workflows: the LinUCB knob policy.
type agent struct {
	pol     *policy.LinUCB
	actions []policy.Action
}

func newAgent() *agent {
	acts := policy.DefaultActions()
	return &agent{pol: policy.New(acts, policy.Dim, policy.DefaultConfig()), actions: acts}
}

// decision is what foresight decided for one workflow at submission.
type decision struct {
	preds  []model.Prediction
	x      []float64
	action int
	reason string
}

// decide predicts every task from history and lets the policy choose the knobs, as the
// predictor service does on graph-built.
func (a *agent) decide(m *model.Model, tr *Trace) (*decision, error) {
	d := &decision{preds: make([]model.Prediction, len(tr.Tasks))}
	p50 := make([]float64, len(tr.Tasks))
	cv, samples := 0.0, 0
	for i := range tr.Tasks {
		p := m.Predict(query(tr, &tr.Tasks[i]))
		d.preds[i] = p
		p50[i] = p.P50
		if p.P50 > 0 {
			cv += (p.P90 - p.P50) / p.P50
		}
		samples += p.Samples
	}
	an, err := analyze(tr, p50)
	if err != nil {
		return nil, err
	}
	n := max(len(tr.Tasks), 1)
	d.x = policy.Features{
		Tasks: len(tr.Tasks), CriticalPathSeconds: an.CriticalPathSeconds,
		TotalWorkCoreSeconds: an.TotalWorkCoreSeconds, PeakWidth: an.PeakWidth,
		MeanCV: cv / float64(n), HistorySamples: samples / n, Family: tr.Family,
	}.Vector()
	d.action, d.reason = a.pol.Choose(d.x)
	return d, nil
}

// durations are the predictions at the quantile the allocator plans them at: the
// action's, raised for priors (planner.PlanningQuantile).
func (d *decision) durations(a policy.Action) []float64 {
	out := make([]float64, len(d.preds))
	for i, p := range d.preds {
		out[i] = planAt(p, a)
	}
	return out
}

// planAt is the duration the allocator plans a prediction at under a's runtime quantile
// (planner.PlannedDuration), given the quantiles the predictor publishes.
func planAt(p model.Prediction, a policy.Action) float64 {
	return planner.PlannedDuration(eventPrediction(p), a.RuntimeQuantile)
}

// eventPrediction is the part of a prediction the predictor publishes that planning reads.
func eventPrediction(p model.Prediction) events.TaskPrediction {
	return events.TaskPrediction{P50Seconds: p.P50, P90Seconds: p.P90, P99Seconds: p.P99, Source: p.Source, Samples: p.Samples}
}

// objective is the normalised objective the learning run minimises and the reward
// mirrors: the mean log ratio of makespan and cost to their lower bounds.
func objective(makespan, cost, makespanLB, costLB float64) float64 {
	return 0.5*logRatio(makespan, makespanLB) + 0.5*logRatio(cost, costLB)
}

// reward scores a finished workflow for the policy against the lower bounds, which do not
// depend on the action (policy.Reward's contract).
func reward(makespan, cost, makespanLB, costLB float64) float64 {
	return policy.Reward(cost, makespan, costLB, makespanLB, 0.5, 0, false)
}
