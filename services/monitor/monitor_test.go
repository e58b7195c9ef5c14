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
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/pkg/testenv"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type graphTask struct {
	id      string
	parents []string
	retries int
}

// seed writes the graph builder's rows for a workflow: its graph and its tasks.
func seed(t *testing.T, pool *pgxpool.Pool, wf string, tasks []graphTask) {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO graphs (workflow_id, graph) VALUES ($1, '{"family": "fan"}')`, wf)
	require.NoError(t, err)
	for _, tk := range tasks {
		parents := tk.parents
		if parents == nil {
			parents = []string{}
		}
		_, err := pool.Exec(ctx, `INSERT INTO workflow_tasks (workflow_id, task_id, signature, category, cpu, memory_bytes, parents, level, estimate_seconds, estimate_source, retries)
			VALUES ($1, $2, 'fan/work', 'work', 1, 1, $3, 0, 2, 'history', $4)`, wf, tk.id, parents, tk.retries)
		require.NoError(t, err)
	}
}

func observed(t *testing.T, wf, task string, ok bool) events.Envelope {
	t.Helper()
	status := events.StatusSucceeded
	if !ok {
		status = events.StatusFailed
	}
	env, err := events.New("test", wf, t0, events.TaskObserved{WorkflowID: wf, TaskID: task, Attempt: 1,
		VMID: "vm", Status: status, StartedAt: t0, FinishedAt: t0.Add(2 * time.Second), RuntimeSeconds: 2})
	require.NoError(t, err)
	return env
}

// deliverAll hands every envelope to the handler at once, each in its own transaction. A
// handler that loses a serialization race is retried, as the consumer redelivers it.
func deliverAll(t *testing.T, s *Service, pool *pgxpool.Pool, envs []events.Envelope) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, env := range envs {
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
}

func completions(t *testing.T, pool *pgxpool.Pool) []events.WorkflowCompleted {
	t.Helper()
	return testenv.Outboxed[events.WorkflowCompleted](t, pool)
}

func newService(pool *pgxpool.Pool) *Service {
	return New(&service.Runtime{Pool: pool, Clock: clock.NewVirtual(t0), Log: slog.New(slog.DiscardHandler)})
}

// Observations of one workflow arrive concurrently and some twice. Each is stored and
// counted once, and exactly one handler, the one that counts the last task, closes the
// workflow: with no lock but the progress row's, none sees a count its predecessors have
// not committed.
func TestConcurrentObservationsCloseTheWorkflowOnce(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Database(t)
	s := newService(pool)
	const wf, n = "00000000-0000-0000-0000-0000000000c1", 40
	var tasks []graphTask
	var envs []events.Envelope
	for i := range n {
		tasks = append(tasks, graphTask{id: fmt.Sprintf("t%02d", i)})
		envs = append(envs, observed(t, wf, tasks[i].id, true))
	}
	seed(t, pool, wf, tasks)
	deliverAll(t, s, pool, append(envs, envs[:n/4]...))

	ctx := context.Background()
	var observations, succeeded, deltas int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM task_observations WHERE workflow_id = $1`, wf).Scan(&observations))
	require.NoError(t, pool.QueryRow(ctx, `SELECT succeeded FROM workflow_progress WHERE workflow_id = $1`, wf).Scan(&succeeded))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE type = $1`, string(events.TypePredictionDelta)).Scan(&deltas))
	require.Equal(t, n, observations)
	require.Equal(t, n, succeeded)
	require.Len(t, completions(t, pool), 1)
	require.Equal(t, n, deltas, "a redelivery's delta has the same id as the first")
}

// After a task fails for good, its descendants can never run. They are counted once, at
// the failure, and the workflow closes, failed, when the last task that can still run is
// observed: not before, and once.
func TestFinalFailureCountsBlockedDescendantsOnce(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Database(t)
	s := newService(pool)
	const wf, n = "00000000-0000-0000-0000-0000000000c2", 20
	tasks := []graphTask{{id: "a"}, {id: "b", parents: []string{"a"}}, {id: "c", parents: []string{"b"}}}
	var envs []events.Envelope
	for i := range n {
		id := fmt.Sprintf("x%02d", i)
		tasks = append(tasks, graphTask{id: id})
		envs = append(envs, observed(t, wf, id, true))
	}
	seed(t, pool, wf, tasks)

	deliverAll(t, s, pool, []events.Envelope{observed(t, wf, "a", false)})
	ctx := context.Background()
	var blocked, failures int
	require.NoError(t, pool.QueryRow(ctx, `SELECT blocked, final_failures FROM workflow_progress WHERE workflow_id = $1`, wf).Scan(&blocked, &failures))
	require.Equal(t, 2, blocked, "b and c")
	require.Equal(t, 1, failures)
	require.Empty(t, completions(t, pool), "the independent tasks can still run")

	deliverAll(t, s, pool, envs[:n-1])
	require.Empty(t, completions(t, pool))
	deliverAll(t, s, pool, append(envs[n-1:], envs[:3]...))
	done := completions(t, pool)
	require.Len(t, done, 1)
	require.Equal(t, events.WorkflowFailed, done[0].Status)
	require.Equal(t, n+3, done[0].Tasks)
	require.Equal(t, 3, done[0].FailedTasks)
}
