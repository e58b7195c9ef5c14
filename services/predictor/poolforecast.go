package predictor

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/services/predictor/forecast"
)

// PoolForecastOptions tune the pool forecaster.
type PoolForecastOptions struct {
	// Interval between forecasts (default 1 min); 0 disables the forecaster.
	Interval time.Duration
	// Step is the series' resolution (default 1 min) and History how far back it reaches
	// (default 24 h); Period is the seasonal period in steps (default 60: hourly).
	Step    time.Duration
	History time.Duration
	Period  int
	// Horizon is how many steps ahead to forecast (default 10).
	Horizon int
}

func (o PoolForecastOptions) withDefaults() PoolForecastOptions {
	if o.Step <= 0 {
		o.Step = time.Minute
	}
	if o.History <= 0 {
		o.History = 24 * time.Hour
	}
	if o.Period <= 0 {
		o.Period = 60
	}
	if o.Horizon <= 0 {
		o.Horizon = 10
	}
	return o
}

// runPoolForecaster publishes a pool forecast every interval until ctx ends.
func (s *Service) runPoolForecaster(ctx context.Context) {
	t := time.NewTicker(s.opts.PoolForecast.Interval)
	defer t.Stop()
	for {
		if err := s.ForecastPool(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("pool forecast", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ForecastPool fits the pool's busy cores per step over the history window — every
// observed task counted for the part of each step it ran, times its cores — with the
// candidate models, keeps the one with the lowest rolling-origin backtest error, and
// publishes its forecast as pool-forecast. Too short a history falls back to the recent
// mean. With no activity in the window it publishes nothing.
func (s *Service) ForecastPool(ctx context.Context) error {
	o := s.opts.PoolForecast.withDefaults()
	now := s.rt.Clock.Now().Truncate(o.Step)
	from := now.Add(-o.History)
	rows, err := s.rt.Pool.Query(ctx, `
		WITH b AS (SELECT generate_series($1::timestamptz, $2::timestamptz - $3::interval, $3::interval) AS t)
		SELECT coalesce(sum(w.cpu * greatest(0, extract(epoch FROM least(o.finished_at, b.t + $3::interval) - greatest(o.started_at, b.t)))), 0)
		       / extract(epoch FROM $3::interval)
		FROM b
		LEFT JOIN task_observations o ON o.finished_at > b.t AND o.started_at < b.t + $3::interval AND o.finished_at > $1
		LEFT JOIN workflow_tasks w ON w.workflow_id = o.workflow_id AND w.task_id = o.task_id
		GROUP BY b.t ORDER BY b.t`, from, now, o.Step)
	if err != nil {
		return fmt.Errorf("load busy cores: %w", err)
	}
	values, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return fmt.Errorf("scan busy cores: %w", err)
	}
	active := false
	for _, v := range values {
		active = active || v > 0
	}
	if !active {
		return nil
	}
	series := forecast.Series{Start: from, Step: o.Step, Values: values}
	out := events.PoolForecast{GeneratedAt: now.UTC(), StepSeconds: o.Step.Seconds(), HistoryPoints: len(values)}
	candidates := []forecast.Forecaster{
		forecast.NewSeasonalNaive(o.Period),
		forecast.NewHoltWinters(o.Period),
		forecast.NewProphetLike([]float64{float64(o.Period)}, 3, 4),
	}
	var mean, hi []float64
	if best, errs, err := forecast.SelectByBacktest(series, candidates, o.Horizon, 3); err == nil {
		mean, _, hi = best.Forecast(o.Horizon)
		out.Model, out.BacktestMAE = best.Name(), errs[best.Name()]
	} else {
		// Not enough history for a seasonal model: hold the last quarter hour's level.
		recent := values[max(0, len(values)-15):]
		var sum, peak float64
		for _, v := range recent {
			sum, peak = sum+v, math.Max(peak, v)
		}
		out.Model = "recent-mean"
		mean, hi = make([]float64, o.Horizon), make([]float64, o.Horizon)
		for i := range mean {
			mean[i], hi[i] = sum/float64(len(recent)), peak
		}
	}
	for i := range mean {
		out.Points = append(out.Points, events.DemandPoint{OffsetSeconds: float64(i) * o.Step.Seconds(),
			Cores: math.Max(mean[i], 0), CoresP90: math.Max(hi[i], math.Max(mean[i], 0))})
	}
	id := events.DerivedID("pool-forecast", now.UTC().Format(time.RFC3339))
	return pgx.BeginFunc(ctx, s.rt.Pool, func(tx pgx.Tx) error {
		return outbox.Emit(ctx, tx, id, Source, "", now, out)
	})
}
