package predictor

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
)

// TestRewardDoesNotDependOnThePlan: two runs of the same workflow that took the same time
// score the same reward whatever their first plans forecast (a plan that padded its
// forecast used to score better), and the slower of two runs scores worse.
func TestRewardDoesNotDependOnThePlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, pool := newTestService(t, clock.NewVirtual(t0), Options{CapacityCores: 64})

	g := events.GraphBuilt{Family: "fam", Tasks: []events.GraphTask{
		{Task: events.Task{ID: "a", CPU: 1, MemoryBytes: 1 << 30}},
		{Task: events.Task{ID: "b", CPU: 1, MemoryBytes: 1 << 30, DependsOn: []string{"a"}}},
	}}
	score := func(wf string, plannedMakespan, makespan float64) float64 {
		t.Helper()
		var r float64
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for i, task := range []struct {
				id   string
				secs float64
			}{{"a", 10}, {"b", 20}} {
				start := t0.Add(time.Duration(i*10) * time.Second)
				if _, err := tx.Exec(ctx, `INSERT INTO task_observations (workflow_id, task_id, attempt, vm_id, family, signature,
					category, status, exit_code, started_at, finished_at, runtime_seconds, cpu_seconds, peak_rss_bytes)
					VALUES ($1, $2, 1, 'vm', 'fam', 'fam/x', 'x', 'succeeded', 0, $3, $4, $5, 0, 0)`,
					wf, task.id, start, start.Add(time.Duration(task.secs*float64(time.Second))), task.secs); err != nil {
					return err
				}
			}
			plan, err := json.Marshal(events.PlanReady{WorkflowID: wf, Version: 1, PredictedMakespanSeconds: plannedMakespan, PredictedCostUSD: 1})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO plans (workflow_id, version, plan) VALUES ($1, 1, $2)`, wf, plan); err != nil {
				return err
			}
			done := events.WorkflowCompleted{WorkflowID: wf, Status: events.WorkflowSucceeded, MakespanSeconds: makespan, CompletedAt: t0.Add(time.Minute)}
			gw := g
			gw.WorkflowID = wf
			sc, err := newScorer(ctx, tx, done, events.DemandPredicted{WorkflowID: wf, Graph: gw})
			if err != nil {
				return err
			}
			r, err = playedReward(ctx, tx, done, sc)
			return err
		}))
		return r
	}
	honest := score("00000000-0000-0000-0000-00000000c001", 40, 60)
	padded := score("00000000-0000-0000-0000-00000000c002", 4000, 60)
	slower := score("00000000-0000-0000-0000-00000000c003", 40, 120)
	require.InDelta(t, honest, padded, 1e-12, "a padded plan earns nothing")
	require.Less(t, slower, honest, "a slower run scores worse")
}
