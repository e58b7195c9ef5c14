package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/pkg/testenv"
)

// Observations of one workflow arrive concurrently and some twice. Each is stored and
// counted once, and exactly one handler, the one that counts the last task, closes the
// workflow: with no lock but the progress row's, none sees a count its predecessors have
// not committed.
func TestConcurrentObservationsCloseTheWorkflowOnce(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Database(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(&service.Runtime{Pool: pool, Clock: clock.NewVirtual(t0), Log: slog.New(slog.DiscardHandler)})
	const wf, n = "00000000-0000-0000-0000-0000000000c1", 40
	_, err := pool.Exec(ctx, `INSERT INTO graphs (workflow_id, graph) VALUES ($1, '{"family": "fan"}')`, wf)
	require.NoError(t, err)
	for i := range n {
		_, err := pool.Exec(ctx, `INSERT INTO workflow_tasks (workflow_id, task_id, signature, category, cpu, memory_bytes, parents, level, estimate_seconds, estimate_source)
			VALUES ($1, $2, 'fan/work', 'work', 1, 1, '{}', 0, 2, 'history')`, wf, fmt.Sprintf("t%02d", i))
		require.NoError(t, err)
	}
	envs := make([]events.Envelope, n)
	for i := range envs {
		envs[i], err = events.New("test", wf, t0, events.TaskObserved{WorkflowID: wf, TaskID: fmt.Sprintf("t%02d", i), Attempt: 1,
			VMID: "vm", Status: events.StatusSucceeded, StartedAt: t0, FinishedAt: t0.Add(2 * time.Second), RuntimeSeconds: 2})
		require.NoError(t, err)
	}
	// Every observation once, a quarter of them twice, all at the same time. A handler
	// that loses a serialization race is retried, as the consumer redelivers it.
	deliveries := append(append([]events.Envelope(nil), envs...), envs[:n/4]...)
	var wg sync.WaitGroup
	for _, env := range deliveries {
		wg.Go(func() {
			for {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return s.onTaskObserved(ctx, tx, env) })
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01") {
					continue
				}
				require.NoError(t, err)
				return
			}
		})
	}
	wg.Wait()

	var observed, succeeded, completed, deltas int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM task_observations WHERE workflow_id = $1`, wf).Scan(&observed))
	require.NoError(t, pool.QueryRow(ctx, `SELECT succeeded FROM workflow_progress WHERE workflow_id = $1`, wf).Scan(&succeeded))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE type = $1`, string(events.TypeWorkflowCompleted)).Scan(&completed))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE type = $1`, string(events.TypePredictionDelta)).Scan(&deltas))
	require.Equal(t, n, observed)
	require.Equal(t, n, succeeded)
	require.Equal(t, 1, completed)
	require.Equal(t, n, deltas, "a redelivery's delta has the same id as the first")
}
