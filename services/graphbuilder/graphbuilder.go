// Package graphbuilder is the graph builder service's shell: on workflow-submitted it
// validates the task graph, analyses it (package dag), estimates each task's runtime from
// history (package estimate), stores the graph and publishes graph-built — or
// workflow-rejected with every problem found.
package graphbuilder

import (
	"context"
	"encoding/json"
	"errors"
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
	return s.rt.SubscribeTx(ctx, "graphbuilder-workflow-submitted", events.TypeWorkflowSubmitted, 2, s.onSubmitted)
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
		var se *spec.Error
		if errors.As(err, &se) {
			probs = se.Problems
		}
		rej := events.WorkflowRejected{WorkflowID: sub.WorkflowID, Problems: probs}
		return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "rejected"), Source, sub.WorkflowID, now, rej)
	}
	sigs := make([]string, len(w.Tasks))
	for i, t := range w.Tasks {
		sigs[i] = dag.Signature(family, t)
	}
	hist, err := loadHistory(ctx, tx, family, sigs)
	if err != nil {
		return err
	}
	// Estimates come from history, the user, then priors — never from a replayed trace's
	// recorded runtimes, which are the answers a replay is scored against.
	built, _, err := estimate.Annotate(sub.WorkflowID, w, hist, estimate.Options{})
	if err != nil {
		var se *spec.Error
		if !errors.As(err, &se) {
			return bus.Permanent(err)
		}
		rej := events.WorkflowRejected{WorkflowID: sub.WorkflowID, Problems: se.Problems}
		return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "rejected"), Source, sub.WorkflowID, now, rej)
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
