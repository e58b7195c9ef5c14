// Package monitor is the monitor service's shell: it stores every task-observed in the
// history the predictor learns from, sends the actual-versus-predicted delta of each task
// to the predictor, and closes the workflow (workflow-completed) when every task settled.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/monitor/completion"
	"github.com/foresight-run/foresight/services/monitor/drift"
)

// Source is the CloudEvents source of the monitor's events.
const Source = "foresight/monitor"

// Service is the monitor.
type Service struct {
	rt         *service.Runtime
	log        *slog.Logger
	reconciler *Reconciler // nil: none
}

// New returns the monitor on rt.
func New(rt *service.Runtime) *Service {
	return &Service{rt: rt, log: rt.Log.With("component", "monitor")}
}

// Start subscribes to task-observed and starts the reconciler.
func (s *Service) Start(ctx context.Context) error {
	if err := s.rt.SubscribeTx(ctx, "monitor-task-observed", events.TypeTaskObserved, 4, s.onTaskObserved); err != nil {
		return err
	}
	if s.reconciler != nil {
		return s.reconciler.Start(ctx)
	}
	return nil
}

// Stop stops the reconciler; the runtime's consumer owns the subscription. Idempotent.
func (s *Service) Stop() {
	if s.reconciler != nil {
		s.reconciler.Stop()
	}
}

func (s *Service) onTaskObserved(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	o, err := bus.Decode[events.TaskObserved](env)
	if err != nil {
		return err
	}
	var family, signature, category string
	var predicted float64
	var inputBytes int64
	err = tx.QueryRow(ctx,
		`SELECT coalesce(g.family, ''), t.signature, t.category, t.estimate_seconds, t.input_bytes
		 FROM workflow_tasks t JOIN graphs g USING (workflow_id) WHERE t.workflow_id = $1 AND t.task_id = $2`,
		o.WorkflowID, o.TaskID).Scan(&family, &signature, &category, &predicted, &inputBytes)
	if err != nil {
		return fmt.Errorf("load task %s/%s: %w", o.WorkflowID, o.TaskID, err)
	}
	tag, err := tx.Exec(ctx,
		`INSERT INTO task_observations (workflow_id, task_id, attempt, vm_id, family, signature, category, status, exit_code,
		   started_at, finished_at, runtime_seconds, cpu_seconds, peak_rss_bytes, predicted_seconds, input_bytes, error)
		 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17) ON CONFLICT DO NOTHING`,
		o.WorkflowID, o.TaskID, o.Attempt, o.VMID, family, signature, category, o.Status, o.ExitCode,
		o.StartedAt, o.FinishedAt, o.RuntimeSeconds, o.CPUSeconds, o.PeakRSSBytes, predicted, inputBytes, o.Error)
	if err != nil {
		return fmt.Errorf("store observation: %w", err)
	}
	now := s.rt.Clock.Now()
	delta := events.PredictionDelta{WorkflowID: o.WorkflowID, TaskID: o.TaskID, Signature: signature, Family: family,
		Category: category, InputBytes: inputBytes, PredictedSeconds: predicted, ActualSeconds: o.RuntimeSeconds,
		PeakRSSBytes: o.PeakRSSBytes, CPUSeconds: o.CPUSeconds, Status: o.Status}
	if err := outbox.Emit(ctx, tx, events.DerivedID(env.ID, "delta"), Source, o.WorkflowID, now, delta); err != nil {
		return err
	}
	replan, err := s.driftReason(ctx, tx, o)
	if err != nil {
		return err
	}
	// Observations of one workflow are handled concurrently. Counting one locks the
	// workflow's progress row until commit, so the completion check that follows sees
	// every observation counted before it, and the one that counts the last task finds
	// the workflow complete. Both come last, to hold that lock briefly.
	if tag.RowsAffected() == 1 {
		final, err := countOutcome(ctx, tx, o)
		if err != nil {
			return err
		}
		if final {
			if err := countBlocked(ctx, tx, o.WorkflowID); err != nil {
				return err
			}
		}
	}
	complete, err := s.checkCompletion(ctx, tx, o.WorkflowID)
	if err != nil || complete || replan == "" {
		return err
	}
	s.log.Info("drift", "workflow_id", o.WorkflowID, "task_id", o.TaskID, "reason", replan)
	req := events.ReplanRequested{WorkflowID: o.WorkflowID, Reason: replan, TaskID: o.TaskID}
	return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "replan"), Source, o.WorkflowID, s.rt.Clock.Now(), req)
}

// countOutcome adds a newly stored observation to its workflow's running counts: a success,
// or a failure on the task's last allowed attempt, which it reports. The counts start from
// the graph's size.
func countOutcome(ctx context.Context, tx pgx.Tx, o events.TaskObserved) (final bool, err error) {
	// The graph is counted once, for the first observation: counting it on every one made
	// each observation cost as much as the workflow is large.
	if _, err := tx.Exec(ctx, `INSERT INTO workflow_progress (workflow_id, total)
		SELECT $1, (SELECT count(*) FROM workflow_tasks WHERE workflow_id = $1)
		WHERE NOT EXISTS (SELECT 1 FROM workflow_progress WHERE workflow_id = $1)
		ON CONFLICT DO NOTHING`, o.WorkflowID); err != nil {
		return false, fmt.Errorf("start progress: %w", err)
	}
	err = tx.QueryRow(ctx, `
		UPDATE workflow_progress p SET
		  succeeded = p.succeeded + CASE WHEN $2 = 'succeeded' THEN 1 ELSE 0 END,
		  final_failures = p.final_failures + CASE WHEN $2 <> 'succeeded' AND $3 > t.retries THEN 1 ELSE 0 END
		FROM workflow_tasks t WHERE p.workflow_id = $1 AND t.workflow_id = $1 AND t.task_id = $4
		RETURNING $2 <> 'succeeded' AND $3 > t.retries`,
		o.WorkflowID, o.Status, o.Attempt, o.TaskID).Scan(&final)
	if err != nil {
		return false, fmt.Errorf("count outcome: %w", err)
	}
	return final, nil
}

// countBlocked records, after a final failure, how many tasks can never run because an
// ancestor failed for good. It walks the graph once per final failure, so the completion
// check need not walk it on every observation.
func countBlocked(ctx context.Context, tx pgx.Tx, workflowID string) error {
	r, err := evaluate(ctx, tx, workflowID)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE workflow_progress SET blocked = $2 WHERE workflow_id = $1`, workflowID, r.Blocked); err != nil {
		return fmt.Errorf("count blocked: %w", err)
	}
	return nil
}

// driftReason says why the task's runtime left its predicted band and the allocator should
// re-plan, or "" when it did not (or nothing was predicted).
func (s *Service) driftReason(ctx context.Context, tx pgx.Tx, o events.TaskObserved) (string, error) {
	p := events.TaskPrediction{TaskID: o.TaskID}
	err := tx.QueryRow(ctx, `SELECT p50_seconds, p90_seconds, source FROM predictions WHERE workflow_id = $1 AND task_id = $2`,
		o.WorkflowID, o.TaskID).Scan(&p.P50Seconds, &p.P90Seconds, &p.Source)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load prediction: %w", err)
	}
	return drift.Check(o, p), nil
}

// checkCompletion emits workflow-completed when every task settled and reports whether it
// did.
func (s *Service) checkCompletion(ctx context.Context, tx pgx.Tx, workflowID string) (bool, error) {
	// Fast path: the workflow is complete only when every task succeeded, failed for good
	// or can never run, which the running counts answer without reading the graph. A
	// progress row from before blocked was counted (NULL) takes the slow path.
	var total, succeeded, finalFailures int
	var blocked *int
	if err := tx.QueryRow(ctx, `SELECT total, succeeded, final_failures, blocked FROM workflow_progress WHERE workflow_id = $1`,
		workflowID).Scan(&total, &succeeded, &finalFailures, &blocked); err != nil {
		return false, fmt.Errorf("load progress: %w", err)
	}
	if (finalFailures == 0 && succeeded < total) || (blocked != nil && succeeded+finalFailures+*blocked < total) {
		return false, nil
	}
	r, err := evaluate(ctx, tx, workflowID)
	if err != nil {
		return false, err
	}
	if !r.Complete {
		return false, nil
	}
	var makespan float64
	var ooms int
	var deadline *float64
	if err := tx.QueryRow(ctx,
		`SELECT coalesce(extract(epoch FROM max(o.finished_at) - min(o.started_at)), 0),
		        count(*) FILTER (WHERE o.status = 'oom_killed'),
		        (SELECT (graph->'objective'->>'deadline_seconds')::float8 FROM graphs WHERE workflow_id = $1)
		 FROM task_observations o WHERE o.workflow_id = $1`,
		workflowID).Scan(&makespan, &ooms, &deadline); err != nil {
		return false, err
	}
	status := events.WorkflowSucceeded
	if !r.Succeeded {
		status = events.WorkflowFailed
	}
	done := events.WorkflowCompleted{WorkflowID: workflowID, Status: status, Tasks: r.Done + r.Failed + r.Blocked,
		FailedTasks: r.Failed + r.Blocked, MakespanSeconds: makespan, CompletedAt: s.rt.Clock.Now(),
		OOMKills: ooms, DeadlineMissed: deadline != nil && makespan > *deadline}
	s.log.Info("workflow completed", "workflow_id", workflowID, "status", status, "makespan_s", makespan)
	// One id per workflow: a second completion check emits the same event, dropped by the
	// outbox's unique id.
	return true, outbox.Emit(ctx, tx, events.DerivedID(workflowID, "completed"), Source, workflowID, done.CompletedAt, done)
}

// evaluate applies the completion rule to the workflow's graph and the latest observation
// of each of its tasks.
func evaluate(ctx context.Context, tx pgx.Tx, workflowID string) (completion.Result, error) {
	rows, err := tx.Query(ctx, `SELECT task_id, parents, retries FROM workflow_tasks WHERE workflow_id = $1`, workflowID)
	if err != nil {
		return completion.Result{}, err
	}
	tasks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (completion.Task, error) {
		var t completion.Task
		return t, r.Scan(&t.ID, &t.Parents, &t.Retries)
	})
	if err != nil {
		return completion.Result{}, fmt.Errorf("load graph: %w", err)
	}
	latest := make(map[string]completion.Outcome, len(tasks))
	rows, err = tx.Query(ctx,
		`SELECT DISTINCT ON (task_id) task_id, status = 'succeeded', attempt FROM task_observations
		 WHERE workflow_id = $1 ORDER BY task_id, attempt DESC`, workflowID)
	if err != nil {
		return completion.Result{}, err
	}
	for rows.Next() {
		var id string
		var o completion.Outcome
		if err := rows.Scan(&id, &o.Succeeded, &o.Attempt); err != nil {
			rows.Close()
			return completion.Result{}, err
		}
		latest[id] = o
	}
	rows.Close()
	return completion.Evaluate(tasks, latest), nil
}

// Build is the service's factory for service.Main and the all-in-one binary: the monitor
// and its stalled-workflow reconciler.
func Build(ctx context.Context, rt *service.Runtime) (service.Component, error) {
	s := New(rt)
	s.reconciler = NewReconciler(s, rt.Config.StallAfter)
	return s, nil
}
