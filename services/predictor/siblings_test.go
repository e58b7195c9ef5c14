package predictor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/predictor/model"
)

// TestFinishedSiblingsSharpenPredictions: history says a task signature takes 10 s; in
// this run its first siblings take 30 s, so the predictor revises the unfinished siblings'
// predictions toward 30 s and publishes the revision.
func TestFinishedSiblingsSharpenPredictions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, pool := newTestService(t, clk, Options{CapacityCores: 64})
	for range 30 {
		s.model.Observe(model.Observation{Signature: "fam/align", Family: "fam", Category: "align", CPU: 1, RuntimeSeconds: 10})
	}
	wf := "00000000-0000-0000-0000-0000000000b1"
	g := events.GraphBuilt{WorkflowID: wf, Family: "fam"}
	for i := range 8 {
		g.Tasks = append(g.Tasks, events.GraphTask{Task: events.Task{ID: fmt.Sprintf("a%d", i), CPU: 1, MemoryBytes: 1 << 20, Category: "align"},
			Signature: "fam/align", EstimateSeconds: 10, EstimateSource: "history"})
	}
	run := func(fn func(context.Context, pgx.Tx, events.Envelope) error, p events.Payload) {
		env, err := events.New("test", wf, clk.Now(), p)
		require.NoError(t, err)
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(ctx, tx, env) }))
	}
	run(s.onGraphBuilt, g)
	before := predictionOf(t, pool, wf, "a7")
	require.InDelta(t, 10, before.P50Seconds, 2, "history predicts about 10 s")

	for i := range 3 {
		run(s.onDelta, events.PredictionDelta{WorkflowID: wf, TaskID: fmt.Sprintf("a%d", i), Signature: "fam/align", Family: "fam",
			Category: "align", PredictedSeconds: 10, ActualSeconds: 30, Status: events.StatusSucceeded})
	}
	after := predictionOf(t, pool, wf, "a7")
	require.Greater(t, after.P50Seconds, before.P50Seconds*1.5, "finished siblings pull the prediction toward 30 s")

	var revisions int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE type = $1 AND convert_from(payload, 'UTF8')::jsonb->'data' ? 'revision'`,
		string(events.TypeDemandPredicted)).Scan(&revisions))
	require.Positive(t, revisions, "a revised demand-predicted was published")
}

func predictionOf(t *testing.T, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, wf, task string) events.TaskPrediction {
	t.Helper()
	p := events.TaskPrediction{TaskID: task}
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT p50_seconds, p90_seconds, source FROM predictions WHERE workflow_id = $1 AND task_id = $2`,
		wf, task).Scan(&p.P50Seconds, &p.P90Seconds, &p.Source))
	return p
}
