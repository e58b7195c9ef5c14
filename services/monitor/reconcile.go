package monitor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Reconciler re-emits the events of workflows that stalled. JetStream acknowledges writes
// before they are durable (Jepsen, NATS 2.12.1) and a lost event would stall a workflow
// forever, so Postgres stays the source of truth: a workflow that is not finished, has had
// no event for StallAfter and has no task running gets every event it produced marked
// unpublished in the outbox; the relay sends them again and every consumer's inbox drops
// the ones it already handled, so only the lost step takes effect. A workflow is re-emitted
// at most once per StallAfter.
type Reconciler struct {
	svc        *Service
	stallAfter time.Duration
	every      time.Duration

	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

// NewReconciler checks for stalled workflows every stallAfter/5.
func NewReconciler(s *Service, stallAfter time.Duration) *Reconciler {
	return &Reconciler{svc: s, stallAfter: stallAfter, every: max(stallAfter/5, 100*time.Millisecond)}
}

// Start runs the reconciler until Stop.
func (r *Reconciler) Start(ctx context.Context) error {
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if n, err := r.ReconcileOnce(ctx); err != nil && ctx.Err() == nil {
				r.svc.log.Warn("reconcile", "err", err)
			} else if n > 0 {
				r.svc.log.Warn("re-emitted the events of stalled workflows", "workflows", n)
			}
		}
	}()
	return nil
}

// Stop ends the reconciler. Idempotent.
func (r *Reconciler) Stop() {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		}
	})
}

// ReconcileOnce re-emits the events of every stalled workflow and returns how many.
func (r *Reconciler) ReconcileOnce(ctx context.Context) (int, error) {
	now := r.svc.rt.Clock.Now()
	cutoff := now.Add(-r.stallAfter)
	tag, err := r.svc.rt.Pool.Exec(ctx, `
		WITH stalled AS (
			SELECT w.id FROM workflows w
			WHERE w.status NOT IN ('succeeded', 'failed', 'rejected')
			  AND greatest(w.submitted_at, (SELECT max(received_at) FROM workflow_events e WHERE e.workflow_id = w.id)) < $1
			  AND NOT EXISTS (SELECT 1 FROM agent_runs a WHERE a.workflow_id = w.id AND a.finished_at IS NULL)
			  AND NOT EXISTS (SELECT 1 FROM reconciliations r WHERE r.workflow_id = w.id AND r.at >= $1)
		), marked AS (
			INSERT INTO reconciliations (workflow_id, at) SELECT id, $2 FROM stalled
			ON CONFLICT (workflow_id) DO UPDATE SET at = EXCLUDED.at, count = reconciliations.count + 1
			RETURNING workflow_id
		)
		UPDATE outbox o SET published_at = NULL FROM marked m
		WHERE o.subject LIKE '%.' || m.workflow_id::text AND o.published_at IS NOT NULL`,
		cutoff, now)
	if err != nil {
		return 0, fmt.Errorf("re-emit stalled workflows: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, nil
	}
	var n int
	err = r.svc.rt.Pool.QueryRow(ctx, `SELECT count(*) FROM reconciliations WHERE at = $1`, now).Scan(&n)
	return n, err
}
