package predictor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/services/predictor/forecast"
	"github.com/foresight-run/foresight/services/predictor/model"
)

// reviseThreshold is how far (relative) an unfinished task's P50 must move before a
// revised forecast is worth publishing, and reviseEvery the share of the workflow's tasks
// that must finish between two looks at the siblings: a revision carries the whole graph
// and a look reads every task, so their number stays bounded (about 1/reviseEvery)
// however large the workflow.
const (
	reviseThreshold = 0.10
	reviseEvery     = 0.05
)

// liveRun is the sibling overlay of one running workflow and the forecast it revises.
type liveRun struct {
	run    *model.Run
	record forecastRecord
	done   map[string]bool
	// sinceRevision counts tasks finished since the siblings were last looked at.
	sinceRevision int
	// started holds the tasks already counted as dispatched.
	started map[string]bool
}

// onDispatched tells the workflow's overlay a task started, and when: the siblings that
// finish first are the short ones, and the overlay corrects for that only if it knows
// which siblings are still running and for how long.
func (s *Service) onDispatched(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	d, err := bus.Decode[events.TaskDispatched](env)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lr, err := s.liveRun(ctx, tx, d.WorkflowID)
	// A dispatch heard after its task's finish (the streams are not ordered with each
	// other) would leave a sibling running forever, its elapsed time growing.
	if err != nil || lr == nil || lr.started[d.TaskID] || lr.done[d.TaskID] {
		return err
	}
	for _, t := range lr.record.Event.Graph.Tasks {
		if t.ID == d.TaskID {
			lr.started[t.ID] = true
			lr.run.StartedAt(s.query(lr.record.Event.Graph.Family, t), seconds(env.Time))
			break
		}
	}
	return nil
}

// query describes a graph task to the model.
func (s *Service) query(family string, t events.GraphTask) model.Query {
	return model.Query{Signature: t.Signature, Family: family, Category: t.Category, InputBytes: t.InputBytes,
		CPU: t.CPU, MemoryBytes: t.MemoryBytes, UserEstimateSeconds: t.EstimatedSeconds}
}

// sharpen feeds a finished task to its workflow's sibling overlay and re-predicts the
// unfinished tasks. When some P50 moved by more than reviseThreshold it stores and
// publishes the next revision of demand-predicted. The caller holds s.mu.
func (s *Service) sharpen(ctx context.Context, tx pgx.Tx, env events.Envelope, d events.PredictionDelta, o model.Observation) error {
	causeID, now := env.ID, seconds(env.Time)
	lr, err := s.liveRun(ctx, tx, d.WorkflowID)
	if err != nil || lr == nil {
		return err
	}
	if lr.done[d.TaskID] {
		return nil
	}
	lr.done[d.TaskID] = true
	lr.run.ObserveAt(o, now)
	lr.sinceRevision++
	if float64(lr.sinceRevision) < reviseEvery*float64(len(lr.record.Event.Graph.Tasks)) {
		return nil
	}

	ev := lr.record.Event
	changed := false
	preds := append([]events.TaskPrediction(nil), ev.Predictions...)
	for i, t := range ev.Graph.Tasks {
		// Only the finished task's siblings (same signature or category) can move.
		if lr.done[t.ID] || i >= len(preds) || (t.Signature != d.Signature && t.Category != d.Category) {
			continue
		}
		p := lr.run.PredictAt(s.query(ev.Graph.Family, t), now)
		old := preds[i]
		if old.P50Seconds > 0 && math.Abs(p.P50-old.P50Seconds)/old.P50Seconds > reviseThreshold {
			changed = true
		}
		preds[i] = events.TaskPrediction{TaskID: t.ID, P50Seconds: p.P50, P90Seconds: p.P90, P99Seconds: p.P99,
			MemoryBytes: max(p.MemoryP90, t.MemoryBytes), CPU: t.CPU, Source: p.Source, Samples: p.Samples}
	}
	if !changed {
		// Checked: wait another share of the tasks before looking again. Looking at every
		// later observation made each one cost as much as the workflow is large.
		lr.sinceRevision = 0
		return nil
	}
	ev.Predictions = preds
	ev.Revision++
	demand := make([]forecast.TaskDemand, len(ev.Graph.Tasks))
	index := make(map[string]int32, len(ev.Graph.Tasks))
	for i, t := range ev.Graph.Tasks {
		index[t.ID] = int32(i)
	}
	for i, t := range ev.Graph.Tasks {
		demand[i] = forecast.TaskDemand{CPU: t.CPU, MemoryBytes: preds[i].MemoryBytes, P50: preds[i].P50Seconds, P90: preds[i].P90Seconds}
		for _, p := range t.DependsOn {
			demand[i].Parents = append(demand[i].Parents, index[p])
		}
	}
	curve := forecast.Demand(demand, nil)
	ev.Demand, ev.PredictedMakespanSeconds = curve.Points, curve.MakespanP50
	ev.Contention = forecast.Contention(curve, s.opts.CapacityCores, s.opts.CapacityMemoryBytes)
	lr.record.Event = ev
	lr.sinceRevision = 0
	ids, p50s, p90s, sources := make([]string, 0, len(preds)), make([]float64, 0, len(preds)), make([]float64, 0, len(preds)), make([]string, 0, len(preds))
	for i, t := range ev.Graph.Tasks {
		if !lr.done[t.ID] && i < len(preds) {
			ids, p50s, p90s, sources = append(ids, t.ID), append(p50s, preds[i].P50Seconds), append(p90s, preds[i].P90Seconds), append(sources, preds[i].Source)
		}
	}
	if _, err := tx.Exec(ctx, `
		UPDATE predictions p SET p50_seconds = u.p50, p90_seconds = u.p90, source = u.source, revision = $2
		FROM unnest($3::text[], $4::float8[], $5::float8[], $6::text[]) AS u(task, p50, p90, source)
		WHERE p.workflow_id = $1 AND p.task_id = u.task`, d.WorkflowID, ev.Revision, ids, p50s, p90s, sources); err != nil {
		return fmt.Errorf("store revision: %w", err)
	}
	s.log.Info("predictions sharpened by finished siblings", "workflow_id", d.WorkflowID, "revision", ev.Revision, "after_task", d.TaskID)
	return outbox.Emit(ctx, tx, events.DerivedID(causeID, "revision"), Source, d.WorkflowID, s.rt.Clock.Now(), ev)
}

// liveRun returns the workflow's overlay, rebuilding it from its stored forecast (the one
// made at submission; revisions live in the predictions table) and the observations made (after a restart, or when another replica handled earlier
// deltas). It returns nil for a workflow this predictor never forecast.
func (s *Service) liveRun(ctx context.Context, tx pgx.Tx, workflowID string) (*liveRun, error) {
	if lr, ok := s.runs[workflowID]; ok {
		return lr, nil
	}
	var raw []byte
	err := tx.QueryRow(ctx, `SELECT forecast FROM forecasts WHERE workflow_id = $1`, workflowID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load forecast: %w", err)
	}
	lr := &liveRun{run: s.model.NewRun(), done: map[string]bool{}, started: map[string]bool{}}
	if err := json.Unmarshal(raw, &lr.record); err != nil {
		return nil, fmt.Errorf("decode forecast: %w", err)
	}
	rows, err := tx.Query(ctx,
		`SELECT task_id, signature, family, category, input_bytes, runtime_seconds, cpu_seconds, peak_rss_bytes, finished_at
		 FROM task_observations WHERE workflow_id = $1 AND status = 'succeeded' ORDER BY finished_at`, workflowID)
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var o model.Observation
		var finished time.Time
		if err := rows.Scan(&id, &o.Signature, &o.Family, &o.Category, &o.InputBytes, &o.RuntimeSeconds, &o.CPUSeconds, &o.PeakRSSBytes, &finished); err != nil {
			return nil, err
		}
		lr.done[id] = true
		lr.run.ObserveAt(o, seconds(finished))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.runs[workflowID] = lr
	return lr, nil
}

// seconds is t on the clock the sibling overlay shares between dispatches, finishes and
// predictions: Unix seconds. A dispatch is taken as the task's start, so a task waiting
// for its VM to boot counts as running and its elapsed time overstates its runtime.
func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
