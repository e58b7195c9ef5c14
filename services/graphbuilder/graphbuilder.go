// Package graphbuilder is the graph builder service's shell: on workflow-submitted it
// validates the task graph, analyses it (package dag), estimates each task's runtime from
// history (package estimate), stores the graph and publishes graph-built — or
// workflow-rejected with every problem found.
package graphbuilder

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/graphbuilder/dag"
	"github.com/foresight-run/foresight/services/graphbuilder/estimate"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

// Source is the CloudEvents source of the graph builder's events.
const Source = "foresight/graphbuilder"

// Service is the graph builder.
type Service struct {
	rt  *service.Runtime
	log *slog.Logger
}

// New returns the graph builder on rt.
func New(rt *service.Runtime) *Service {
	return &Service{rt: rt, log: rt.Log.With("component", "graphbuilder")}
}

// Start subscribes to workflow-submitted.
func (s *Service) Start(ctx context.Context) error {
	return s.rt.Subscribe(ctx, bus.Subscription{
		Durable: "graphbuilder-workflow-submitted", Type: events.TypeWorkflowSubmitted, Concurrency: 2,
		Handler: bus.Transactional(s.rt.Pool, "graphbuilder-workflow-submitted", s.onSubmitted),
	})
}

// Stop is a no-op: the runtime's consumer owns the subscription.
func (s *Service) Stop() {}

func (s *Service) onSubmitted(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	sub, err := bus.Decode[events.WorkflowSubmitted](env)
	if err != nil {
		return err
	}
	now := s.rt.Clock.Now()
	family := sub.Family
	if family == "" {
		family = sub.Name
	}
	w := &spec.Workflow{Name: sub.Name, Family: family, Objective: sub.Objective, Tasks: sub.Tasks}
	if err := spec.Validate(w, spec.DefaultLimits()); err != nil {
		probs := []events.Problem{{Field: "tasks", Reason: err.Error()}}
		if se, ok := err.(*spec.Error); ok {
			probs = se.Problems
		}
		rej := events.WorkflowRejected{WorkflowID: sub.WorkflowID, Problems: probs}
		return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "rejected"), Source, sub.WorkflowID, now, rej)
	}
	g, probs := dag.New(w.Tasks)
	if len(probs) > 0 {
		rej := events.WorkflowRejected{WorkflowID: sub.WorkflowID, Problems: probs}
		return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "rejected"), Source, sub.WorkflowID, now, rej)
	}
	built, err := s.build(ctx, tx, sub, family, g)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(built)
	if _, err := tx.Exec(ctx, `INSERT INTO graphs (workflow_id, graph) VALUES ($1, $2) ON CONFLICT DO NOTHING`, sub.WorkflowID, raw); err != nil {
		return fmt.Errorf("store graph: %w", err)
	}
	rows := make([][]any, len(built.Tasks))
	for i, t := range built.Tasks {
		parents := t.DependsOn
		if parents == nil {
			parents = []string{}
		}
		rows[i] = []any{sub.WorkflowID, t.ID, t.Signature, t.Category, t.CPU, t.MemoryBytes, parents, t.Level,
			t.EstimateSeconds, t.EstimateSource, t.Retries, t.InputBytes}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"workflow_tasks"},
		[]string{"workflow_id", "task_id", "signature", "category", "cpu", "memory_bytes", "parents", "level",
			"estimate_seconds", "estimate_source", "retries", "input_bytes"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("store tasks: %w", err)
	}
	s.log.Info("graph built", "workflow_id", sub.WorkflowID, "tasks", len(built.Tasks), "critical_path_s", built.CriticalPathSeconds)
	return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "graph"), Source, sub.WorkflowID, now, built)
}

// build analyses the graph on history-based estimates.
func (s *Service) build(ctx context.Context, tx pgx.Tx, sub events.WorkflowSubmitted, family string, g *dag.Graph) (events.GraphBuilt, error) {
	n := g.Len()
	byID := make(map[string]events.Task, n)
	for _, t := range sub.Tasks {
		byID[t.ID] = t
	}
	tasks := make([]events.Task, n)
	sigs := make([]string, n)
	for i := range n {
		tasks[i] = byID[g.ID(i)]
		sigs[i] = dag.Signature(family, tasks[i])
	}
	hist, err := loadHistory(ctx, tx, family, sigs)
	if err != nil {
		return events.GraphBuilt{}, err
	}
	durations, cpu, mem := make([]float64, n), make([]float64, n), make([]int64, n)
	sources := make([]string, n)
	for i, t := range tasks {
		durations[i], sources[i] = estimate.Estimate(t, sigs[i], family, hist, 0)
		if sources[i] != estimate.SourceHistory && sources[i] != estimate.SourceUser && t.ReplaySeconds > 0 {
			// A replayed trace task carries its recorded runtime: the best estimate there is.
			durations[i], sources[i] = t.ReplaySeconds, estimate.SourceTrace
		}
		cpu[i], mem[i] = t.CPU, t.MemoryBytes
	}
	a := dag.Analyze(g, durations, cpu, mem)
	out := events.GraphBuilt{
		WorkflowID: sub.WorkflowID, Name: sub.Name, Family: family, Objective: sub.Objective,
		Edges: g.Edges(), Levels: a.Levels, PeakWidth: a.PeakWidth, CriticalPathSeconds: a.CriticalPathSeconds,
		TotalWorkCoreSeconds: a.TotalWorkCoreSeconds, PeakCores: a.PeakCores, PeakMemoryBytes: a.PeakMemoryBytes,
	}
	onCP := make([]bool, n)
	for _, i := range a.CriticalPath {
		onCP[i] = true
		out.CriticalPath = append(out.CriticalPath, g.ID(int(i)))
	}
	for _, i := range a.Order {
		out.Tasks = append(out.Tasks, events.GraphTask{
			Task: tasks[i], Signature: sigs[i], Level: int(a.Level[i]), UpwardRank: a.UpwardRank[i],
			SlackSeconds: a.Slack[i], OnCriticalPath: onCP[i], EstimateSeconds: durations[i], EstimateSource: sources[i],
		})
	}
	return out, nil
}

// loadHistory summarises succeeded observations of the workflow's signatures and family in
// one query each.
func loadHistory(ctx context.Context, tx pgx.Tx, family string, sigs []string) (estimate.MapHistory, error) {
	h := estimate.MapHistory{Signatures: map[string]estimate.Stats{}, Families: map[string]estimate.Stats{}}
	rows, err := tx.Query(ctx,
		`SELECT signature, count(*), avg(runtime_seconds) FROM task_observations
		 WHERE status = 'succeeded' AND signature = ANY($1) GROUP BY signature`, sigs)
	if err != nil {
		return h, fmt.Errorf("load history: %w", err)
	}
	for rows.Next() {
		var sig string
		var st estimate.Stats
		if err := rows.Scan(&sig, &st.Count, &st.MeanSeconds); err != nil {
			rows.Close()
			return h, err
		}
		h.Signatures[sig] = st
	}
	rows.Close()
	var st estimate.Stats
	if err := tx.QueryRow(ctx,
		`SELECT count(*), coalesce(avg(runtime_seconds), 0) FROM task_observations WHERE status = 'succeeded' AND family = $1`,
		family).Scan(&st.Count, &st.MeanSeconds); err != nil {
		return h, fmt.Errorf("load family history: %w", err)
	}
	if st.Count > 0 {
		h.Families[family] = st
	}
	return h, nil
}

// Build is the service's factory for service.Main and the all-in-one binary.
func Build(ctx context.Context, rt *service.Runtime) (service.Component, error) { return New(rt), nil }
