package predictor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// TestCompletionLearnsReplays: when a workflow succeeds, the predictor hands the replayer
// the workflow's tasks with the runtimes observed and the predictions it planned with,
// for every action but the one played, and the policy learns each replayed reward besides
// the played one. A replay that fails or is declined costs only the replays.
func TestCompletionLearnsReplays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		learned int // rewards the policy holds afterwards
	}{
		{name: "replayed", learned: len(policy.DefaultActions())},
		{name: "declined", err: fmt.Errorf("too large: %w", policy.ErrNotReplayed), learned: 1},
		{name: "failed", err: errors.New("simulator broke"), learned: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []policy.Replay
			replayer := func(_ context.Context, r policy.Replay) ([]policy.Outcome, error) {
				got = append(got, r)
				if tt.err != nil {
					return nil, tt.err
				}
				out := make([]policy.Outcome, len(r.Actions))
				for i, a := range r.Actions { // a made-up simulator: padding costs money
					out[i] = policy.Outcome{MakespanSeconds: 30, CostUSD: 0.01 * a.RuntimeQuantile}
				}
				return out, nil
			}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s, pool := newTestService(t, clock.NewVirtual(t0), Options{CapacityCores: 64, Replayer: replayer})
			ctx := context.Background()
			wf := "00000000-0000-0000-0000-0000000000f1"
			g := events.GraphBuilt{WorkflowID: wf, Family: "fam", Objective: events.Objective{Mode: "balanced"}, Tasks: []events.GraphTask{
				{Task: events.Task{ID: "a", CPU: 1, MemoryBytes: 1 << 30, Category: "x"}, Signature: "fam/x"},
				{Task: events.Task{ID: "b", CPU: 1, MemoryBytes: 1 << 30, Category: "y", DependsOn: []string{"a"}}, Signature: "fam/y"},
			}}
			handle(t, pool, s.onGraphBuilt, wf, t0, g)
			observe(t, pool, wf, t0, map[string]float64{"a": 10, "b": 20})
			handle(t, pool, s.onCompleted, wf, t0.Add(time.Minute), events.WorkflowCompleted{
				WorkflowID: wf, Status: events.WorkflowSucceeded, MakespanSeconds: 30, CompletedAt: t0.Add(time.Minute)})

			require.Len(t, got, 1, "one replay per completed workflow")
			r := got[0]
			require.Equal(t, wf, r.WorkflowID)
			require.Equal(t, "balanced", r.Mode)
			require.Len(t, r.Actions, len(policy.DefaultActions())-1, "every action but the one played")
			var rec forecastRecord
			var raw []byte
			require.NoError(t, pool.QueryRow(ctx, `SELECT forecast FROM forecasts WHERE workflow_id = $1`, wf).Scan(&raw))
			require.NoError(t, json.Unmarshal(raw, &rec))
			require.NotContains(t, r.Actions, policy.DefaultActions()[rec.Action], "the played action is not replayed")
			require.Equal(t, rec.Event.Predictions, r.Predictions, "replayed with the predictions it was planned with")
			require.Equal(t, []float64{10, 20}, []float64{r.Tasks[0].ReplaySeconds, r.Tasks[1].ReplaySeconds}, "on the runtimes observed")
			require.Equal(t, []string{"a"}, r.Tasks[1].DependsOn)

			require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM predictor_state WHERE name = $1`, policyStateName).Scan(&raw))
			pol := policy.New(policy.DefaultActions(), policy.Dim, policy.DefaultConfig())
			require.NoError(t, json.Unmarshal(raw, pol))
			require.Equal(t, tt.learned, pol.Pulls())
			require.Equal(t, tt.learned-1, pol.Replays())
		})
	}
}

// handle runs a handler on payload in its own transaction, as the bus would.
func handle(t *testing.T, pool *pgxpool.Pool, h func(context.Context, pgx.Tx, events.Envelope) error, wf string, at time.Time, payload events.Payload) {
	t.Helper()
	env, err := events.New("test", wf, at, payload)
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error { return h(context.Background(), tx, env) }))
}

// observe records each task's succeeded attempt with its runtime, as the monitor does.
func observe(t *testing.T, pool *pgxpool.Pool, wf string, t0 time.Time, runtimes map[string]float64) {
	t.Helper()
	for id, secs := range runtimes {
		_, err := pool.Exec(context.Background(), `INSERT INTO task_observations (workflow_id, task_id, attempt, vm_id, family, signature,
			category, status, exit_code, started_at, finished_at, runtime_seconds, cpu_seconds, peak_rss_bytes)
			VALUES ($1, $2, 1, 'vm', 'fam', 'fam/x', 'x', 'succeeded', 0, $3, $4, $5, 0, 0)`,
			wf, id, t0, t0.Add(time.Duration(secs*float64(time.Second))), secs)
		require.NoError(t, err)
	}
}
