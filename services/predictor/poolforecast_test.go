package predictor

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/testenv"
)

// TestForecastPoolLearnsSeasonalDemand writes four hours of history whose busy cores
// follow an hourly cycle, then checks the published forecast continues the cycle.
func TestForecastPoolLearnsSeasonalDemand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(start.Add(4 * time.Hour))
	s, pool := newTestService(t, clk, Options{PoolForecast: PoolForecastOptions{History: 4 * time.Hour}})

	truth := func(minute int) float64 { return math.Round(6 + 4*math.Sin(2*math.Pi*float64(minute)/60)) }
	wf := "00000000-0000-0000-0000-000000000001"
	for m := range 240 {
		id := fmt.Sprintf("t%03d", m)
		at := start.Add(time.Duration(m) * time.Minute)
		_, err := pool.Exec(ctx, `INSERT INTO workflow_tasks (workflow_id, task_id, signature, category, cpu, memory_bytes, parents, level, estimate_seconds, estimate_source)
			VALUES ($1, $2, 's', 'c', $3, 0, '{}', 0, 60, 'user')`, wf, id, truth(m))
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO task_observations (workflow_id, task_id, attempt, vm_id, family, signature, category, status, exit_code, started_at, finished_at, runtime_seconds, cpu_seconds, peak_rss_bytes)
			VALUES ($1, $2, 1, 'vm', 'f', 's', 'c', 'succeeded', 0, $3, $4, 60, 0, 0)`, wf, id, at, at.Add(time.Minute))
		require.NoError(t, err)
	}
	require.NoError(t, s.ForecastPool(ctx))

	forecasts := testenv.Outboxed[events.PoolForecast](t, pool)
	require.NotEmpty(t, forecasts)
	f := forecasts[0]
	require.Equal(t, 240, f.HistoryPoints)
	require.NotEqual(t, "recent-mean", f.Model, "four cycles are enough for a seasonal model")
	require.Len(t, f.Points, 10)
	var errSum float64
	for i, p := range f.Points {
		errSum += math.Abs(p.Cores - truth(240+i))
		require.GreaterOrEqual(t, p.CoresP90, p.Cores)
	}
	require.Less(t, errSum/10, 1.0, "the forecast continues the hourly cycle (model %s)", f.Model)

	// No activity: nothing is published.
	_, err := pool.Exec(ctx, `DELETE FROM task_observations; DELETE FROM outbox`)
	require.NoError(t, err)
	require.NoError(t, s.ForecastPool(ctx))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n))
	require.Zero(t, n)
}
