// Package predictor is the predictor service's shell: on graph-built it predicts every
// task (package model), forecasts the workflow's demand and contention (package
// forecast), lets the RL policy choose the planning knobs (package policy) and publishes
// demand-predicted. It learns online from the monitor's prediction deltas and, at each
// workflow's completion, rewards the policy.
package predictor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bounds"
	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/predictor/forecast"
	"github.com/foresight-run/foresight/services/predictor/model"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// Source is the CloudEvents source of the predictor's events.
const Source = "foresight/predictor"

const (
	policyStateName = "policy/linucb"
	modelStateName  = "model/runtime"
)

// Options configure the predictor.
type Options struct {
	// CapacityCores and CapacityMemoryBytes are the pool's forecast capacity, against
	// which contention windows are reported.
	CapacityCores       float64
	CapacityMemoryBytes int64
	// PoolForecast configures the background-demand forecaster behind the pool targets.
	PoolForecast PoolForecastOptions
	// Replayer, when set, replays each succeeded workflow under the actions it was not
	// run with, and the policy learns their rewards as well as the played one's
	// (policy.Replay). Without it the policy learns only the action played.
	Replayer policy.Replayer
}

// Service is the predictor.
type Service struct {
	rt   *service.Runtime
	log  *slog.Logger
	opts Options

	mu    sync.Mutex // guards model and runs
	model *model.Model
	runs  map[string]*liveRun // sibling overlays of running workflows

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// New returns the predictor on rt.
func New(rt *service.Runtime, opts Options) *Service {
	return &Service{rt: rt, log: rt.Log.With("component", "predictor"), opts: opts, model: model.New(model.DefaultConfig()),
		runs: map[string]*liveRun{}}
}

// Start rebuilds the runtime models from history and subscribes.
func (s *Service) Start(ctx context.Context) error {
	if err := s.loadHistory(ctx); err != nil {
		return err
	}
	if err := s.rt.SubscribeAll(ctx,
		service.TxSub{Durable: "predictor-graph-built", Type: events.TypeGraphBuilt, Concurrency: 2, Handler: s.onGraphBuilt},
		service.TxSub{Durable: "predictor-prediction-delta", Type: events.TypePredictionDelta, Concurrency: 2, Handler: s.onDelta},
		service.TxSub{Durable: "predictor-workflow-completed", Type: events.TypeWorkflowCompleted, Concurrency: 2, Handler: s.onCompleted},
		service.TxSub{Durable: "predictor-task-dispatched", Type: events.TypeTaskDispatched, Concurrency: 2, Handler: s.onDispatched},
	); err != nil {
		return err
	}
	if s.opts.PoolForecast.Interval > 0 {
		var fctx context.Context
		fctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
		s.done = make(chan struct{})
		go func() { defer close(s.done); s.runPoolForecaster(fctx) }()
	}
	return nil
}

// Stop stops the pool forecaster; the runtime's consumer owns the subscriptions.
// Idempotent.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
	})
}

// loadHistory restores the runtime models: the snapshot saved at the last workflow
// completion, then every observation that finished after it. Without a snapshot the
// models are rebuilt from the whole history.
func (s *Service) loadHistory(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := time.Time{}
	var raw []byte
	var saved time.Time
	err := s.rt.Pool.QueryRow(ctx, `SELECT state, updated_at FROM predictor_state WHERE name = $1`, modelStateName).Scan(&raw, &saved)
	switch {
	case err == nil:
		if uerr := json.Unmarshal(raw, s.model); uerr == nil {
			since = saved
		} else {
			s.model = model.New(model.DefaultConfig()) // an older format: rebuild from history
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("load model snapshot: %w", err)
	}
	rows, err := s.rt.Pool.Query(ctx,
		`SELECT signature, family, category, input_bytes, runtime_seconds, cpu_seconds, peak_rss_bytes
		 FROM task_observations WHERE status = 'succeeded' AND finished_at > $1 ORDER BY finished_at`, since)
	if err != nil {
		return fmt.Errorf("load history: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var o model.Observation
		if err := rows.Scan(&o.Signature, &o.Family, &o.Category, &o.InputBytes, &o.RuntimeSeconds, &o.CPUSeconds, &o.PeakRSSBytes); err != nil {
			return err
		}
		s.model.Observe(o)
		n++
	}
	s.log.Info("runtime models restored", "snapshot", !since.IsZero(), "observations_replayed", n)
	return rows.Err()
}

func (s *Service) onDelta(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	d, err := bus.Decode[events.PredictionDelta](env)
	if err != nil {
		return err
	}
	if d.Status != events.StatusSucceeded {
		return nil // a failed run says nothing about how long the task takes
	}
	o := model.Observation{Signature: d.Signature, Family: d.Family, Category: d.Category, InputBytes: d.InputBytes,
		RuntimeSeconds: d.ActualSeconds, CPUSeconds: d.CPUSeconds, PeakRSSBytes: d.PeakRSSBytes}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The sibling overlay first, so its residual is against what history predicted before
	// this observation joined it.
	if err := s.sharpen(ctx, tx, env, d, o); err != nil {
		delete(s.runs, d.WorkflowID) // the transaction rolls back: rebuild from Postgres next time
		return err
	}
	s.model.Observe(o)
	return nil
}

type forecastRecord struct {
	Event    events.DemandPredicted `json:"event"`
	Features []float64              `json:"features"`
	Action   int                    `json:"action"`
}

func (s *Service) onGraphBuilt(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	g, err := bus.Decode[events.GraphBuilt](env)
	if err != nil {
		return err
	}
	pol, err := loadPolicy(ctx, tx, false)
	if err != nil {
		return err
	}
	preds := make([]events.TaskPrediction, len(g.Tasks))
	demand := make([]forecast.TaskDemand, len(g.Tasks))
	index := make(map[string]int32, len(g.Tasks))
	var cvSum float64
	history := 0
	s.mu.Lock()
	for i, t := range g.Tasks {
		index[t.ID] = int32(i)
		p := s.model.Predict(model.Query{Signature: t.Signature, Family: g.Family, Category: t.Category, InputBytes: t.InputBytes,
			CPU: t.CPU, MemoryBytes: t.MemoryBytes, UserEstimateSeconds: t.EstimatedSeconds})
		if p.Source == "history" || p.Source == "siblings" {
			history += p.Samples
		}
		preds[i] = events.TaskPrediction{TaskID: t.ID, P50Seconds: p.P50, P90Seconds: p.P90, P99Seconds: p.P99,
			MemoryBytes: max(p.MemoryP90, t.MemoryBytes), CPU: t.CPU, Source: p.Source, Samples: p.Samples}
		if p.P50 > 0 {
			cvSum += (p.P90 - p.P50) / p.P50
		}
	}
	s.mu.Unlock()
	for i, t := range g.Tasks {
		d := forecast.TaskDemand{CPU: t.CPU, MemoryBytes: preds[i].MemoryBytes, P50: preds[i].P50Seconds, P90: preds[i].P90Seconds}
		for _, p := range t.DependsOn {
			d.Parents = append(d.Parents, index[p])
		}
		demand[i] = d
	}
	curve := forecast.Demand(demand, nil)
	feat := policy.Features{Tasks: len(g.Tasks), CriticalPathSeconds: g.CriticalPathSeconds, TotalWorkCoreSeconds: g.TotalWorkCoreSeconds,
		PeakWidth: g.PeakWidth, MeanCV: cvSum / float64(max(len(g.Tasks), 1)), HistorySamples: history, Family: g.Family}
	x := feat.Vector()
	idx, reason := pol.Choose(x)
	a := pol.Actions()[idx]
	out := events.DemandPredicted{
		WorkflowID: g.WorkflowID, Graph: g, Predictions: preds, Demand: curve.Points,
		Contention:               forecast.Contention(curve, s.opts.CapacityCores, s.opts.CapacityMemoryBytes),
		PredictedMakespanSeconds: curve.MakespanP50,
		Action: events.PolicyAction{Name: a.Name, RuntimeQuantile: a.RuntimeQuantile, MemoryHeadroom: a.MemoryHeadroom,
			WarmAheadSeconds: a.WarmAheadSeconds, Reason: reason},
	}
	rec, _ := json.Marshal(forecastRecord{Event: out, Features: x, Action: idx})
	tag, err := tx.Exec(ctx, `INSERT INTO forecasts (workflow_id, forecast) VALUES ($1, $2) ON CONFLICT DO NOTHING`, g.WorkflowID, rec)
	if err != nil {
		return fmt.Errorf("store forecast: %w", err)
	}
	if tag.RowsAffected() == 1 {
		rows := make([][]any, len(preds))
		for i, p := range preds {
			rows[i] = []any{g.WorkflowID, p.TaskID, p.P50Seconds, p.P90Seconds, p.Source}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"predictions"}, []string{"workflow_id", "task_id", "p50_seconds", "p90_seconds", "source"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("store predictions: %w", err)
		}
	}
	return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "demand"), Source, g.WorkflowID, s.rt.Clock.Now(), out)
}

// onCompleted rewards the action chosen for the workflow (and, with a Replayer, the
// actions it was not run with) and persists the model and the policy.
func (s *Service) onCompleted(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	done, err := bus.Decode[events.WorkflowCompleted](env)
	if err != nil {
		return err
	}
	// Everything that reads before the first write: the replay takes seconds on a large
	// workflow, and the rows written below (the model snapshot, the policy) are locked
	// from their write to the commit, which every other completion waits for.
	var rec *forecastRecord
	var raw []byte
	err = tx.QueryRow(ctx, `SELECT forecast FROM forecasts WHERE workflow_id = $1`, done.WorkflowID).Scan(&raw)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // never forecast: nothing to reward
	case err != nil:
		return err
	default:
		rec = &forecastRecord{}
		if err := json.Unmarshal(raw, rec); err != nil {
			return bus.Permanent(err)
		}
	}
	var r float64
	var replays replayed
	if rec != nil {
		sc, err := newScorer(ctx, tx, done, rec.Event)
		if err != nil {
			return err
		}
		if r, err = playedReward(ctx, tx, done, sc); err != nil {
			return err
		}
		if replays, err = s.replays(ctx, done, *rec, sc); err != nil {
			return err
		}
	}

	s.mu.Lock()
	if lr, ok := s.runs[done.WorkflowID]; ok {
		lr.run.Finish() // how far this run sat from history widens the family's future bands
		delete(s.runs, done.WorkflowID)
	}
	snapshot, err := json.Marshal(s.model)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("snapshot model: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO predictor_state (name, state, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
		modelStateName, snapshot, s.rt.Clock.Now()); err != nil {
		return fmt.Errorf("save model snapshot: %w", err)
	}
	if rec == nil {
		return nil
	}
	pol, err := loadPolicy(ctx, tx, true)
	if err != nil {
		return err
	}
	pol.Update(rec.Features, rec.Action, r)
	n := replays.learn(pol, *rec)
	s.log.InfoContext(ctx, "policy rewarded", "workflow_id", done.WorkflowID, "action", rec.Event.Action.Name,
		"reward", r, "replayed_actions", n)
	state, err := json.Marshal(pol)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO predictor_state (name, state) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`, policyStateName, state)
	return err
}

// scorer rewards a finished workflow's outcomes, played or replayed, for the policy:
// makespan and money as billed against the workflow's lower bounds (package bounds, from
// the runtimes its tasks were observed to take), weighted by the user's objective, with
// penalties for OOM kills and a missed deadline (policy.Reward). The references depend
// only on the workflow, as Reward requires: against the first plan's own forecast, an
// action that padded its plan scored better for it. They are the ones the benchmark's
// learning curve rewards against, so it measures this loop. No VM is taken to have been
// hot at the start: a workflow that found one beats its makespan bound.
type scorer struct {
	tasks              []bounds.Task
	costLB, makespanLB float64
	weight             float64
	deadline           *float64
}

func newScorer(ctx context.Context, tx pgx.Tx, done events.WorkflowCompleted, dp events.DemandPredicted) (scorer, error) {
	tasks, err := observedTasks(ctx, tx, done.WorkflowID, dp.Graph)
	if err != nil {
		return scorer{}, err
	}
	cat := catalog.Default()
	// How much makespan weighs against money: the objective the user chose.
	sc := scorer{tasks: tasks, costLB: bounds.Cost(tasks, cat), makespanLB: bounds.Makespan(tasks, cat, false),
		weight: 0.5, deadline: dp.Graph.Objective.DeadlineSeconds}
	switch dp.Graph.Objective.Mode {
	case "fastest":
		sc.weight = 0.9
	case "cheapest":
		sc.weight = 0.1
	}
	return sc, nil
}

// reward scores one outcome of the workflow.
func (sc scorer) reward(costUSD, makespanS float64, oomKills int, missedDeadline bool) float64 {
	return policy.Reward(costUSD, makespanS, sc.costLB, sc.makespanLB, sc.weight, oomKills, missedDeadline)
}

// playedReward scores the finished workflow as it ran; a failed workflow scores the
// minimum.
func playedReward(ctx context.Context, tx pgx.Tx, done events.WorkflowCompleted, sc scorer) (float64, error) {
	if done.Status != events.WorkflowSucceeded {
		return -1, nil
	}
	cost, err := billedCost(ctx, tx, done)
	if err != nil {
		return 0, err
	}
	return sc.reward(cost, done.MakespanSeconds, done.OOMKills, done.DeadlineMissed), nil
}

// replayed is a finished workflow's replays, rewarded: one reward per action of the
// policy's action list, NaN for the action played.
type replayed struct {
	actions []policy.Action
	rewards []float64
}

// replays replays a succeeded workflow under every action it was not run with
// (Options.Replayer), on the runtimes observed, and scores each outcome with sc as the
// played one is scored. A replay that fails is logged and skipped: the played reward is
// learned regardless, and a replay is extra knowledge, not the reward itself.
func (s *Service) replays(ctx context.Context, done events.WorkflowCompleted, rec forecastRecord, sc scorer) (replayed, error) {
	if s.opts.Replayer == nil || done.Status != events.WorkflowSucceeded {
		return replayed{}, nil
	}
	g := rec.Event.Graph
	r := policy.Replay{WorkflowID: done.WorkflowID, Mode: g.Objective.Mode,
		Tasks: make([]events.Task, len(g.Tasks)), Predictions: rec.Event.Predictions}
	for i, t := range g.Tasks {
		r.Tasks[i] = t.Task
		r.Tasks[i].ReplaySeconds = sc.tasks[i].Seconds
	}
	all := policy.DefaultActions()
	var idx []int
	for i, a := range all {
		if i != rec.Action {
			r.Actions = append(r.Actions, a)
			idx = append(idx, i)
		}
	}
	outs, err := s.opts.Replayer(ctx, r)
	switch {
	case ctx.Err() != nil:
		return replayed{}, ctx.Err()
	case errors.Is(err, policy.ErrNotReplayed):
		s.log.DebugContext(ctx, "workflow not replayed", "workflow_id", done.WorkflowID, "reason", err)
		return replayed{}, nil
	case err == nil && len(outs) != len(r.Actions):
		err = fmt.Errorf("%d outcomes for %d actions", len(outs), len(r.Actions))
	}
	if err != nil {
		s.log.WarnContext(ctx, "replay failed; the policy learns only the action played", "workflow_id", done.WorkflowID, "err", err)
		return replayed{}, nil
	}
	out := replayed{actions: all, rewards: make([]float64, len(all))}
	out.rewards[rec.Action] = math.NaN()
	for k, o := range outs {
		missed := sc.deadline != nil && o.MakespanSeconds > *sc.deadline
		out.rewards[idx[k]] = sc.reward(o.CostUSD, o.MakespanSeconds, 0, missed)
	}
	return out, nil
}

// learn teaches pol the replayed rewards, if pol's actions are the ones replayed (a
// policy persisted with other actions learns only the played reward), and returns how
// many it learned.
func (rp replayed) learn(pol *policy.LinUCB, rec forecastRecord) int {
	if rp.rewards == nil || !slices.Equal(pol.Actions(), rp.actions) {
		return 0
	}
	n := 0
	for i, r := range rp.rewards {
		if i != rec.Action {
			pol.Replayed(rec.Features, i, r)
			n++
		}
	}
	return n
}

// observedTasks is the workflow's graph with each task's observed runtime (its succeeded
// attempt), as package bounds reads a finished workflow.
func observedTasks(ctx context.Context, tx pgx.Tx, workflowID string, g events.GraphBuilt) ([]bounds.Task, error) {
	rows, err := tx.Query(ctx, `SELECT task_id, runtime_seconds FROM task_observations
		WHERE workflow_id = $1 AND status = 'succeeded'`, workflowID)
	if err != nil {
		return nil, fmt.Errorf("load runtimes: %w", err)
	}
	runtime := map[string]float64{}
	for rows.Next() {
		var id string
		var secs float64
		if err := rows.Scan(&id, &secs); err != nil {
			rows.Close()
			return nil, err
		}
		runtime[id] = secs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	index := make(map[string]int, len(g.Tasks))
	for i, t := range g.Tasks {
		index[t.ID] = i
	}
	out := make([]bounds.Task, len(g.Tasks))
	for i, t := range g.Tasks {
		out[i] = bounds.Task{Seconds: runtime[t.ID], Cores: t.CPU, MemoryBytes: t.MemoryBytes}
		for _, d := range t.DependsOn {
			if p, ok := index[d]; ok {
				out[i].Parents = append(out[i].Parents, p)
			}
		}
	}
	return out, nil
}

// billedCost is what the workflow's VMs cost as the catalog bills (per second from ready,
// with the minimum charge per start); VMs of types the catalog does not price (local host
// slices) cost nothing.
func billedCost(ctx context.Context, tx pgx.Tx, done events.WorkflowCompleted) (float64, error) {
	cat := catalog.Default()
	rows, err := tx.Query(ctx,
		`SELECT instance_type, extract(epoch FROM coalesce(released_at, $2) - ready_at) FROM vms
		 WHERE workflow_id = $1 AND ready_at IS NOT NULL`, done.WorkflowID, done.CompletedAt)
	if err != nil {
		return 0, fmt.Errorf("load vms: %w", err)
	}
	defer rows.Close()
	var total float64
	for rows.Next() {
		var typ string
		var secs float64
		if err := rows.Scan(&typ, &secs); err != nil {
			return 0, err
		}
		if it, ok := cat.Type(typ); ok {
			total += cat.BilledCost(it, max(secs, 0))
		}
	}
	return total, rows.Err()
}

// loadPolicy reads the persisted policy (locking it when it will be written) or returns a
// fresh one.
func loadPolicy(ctx context.Context, tx pgx.Tx, forUpdate bool) (*policy.LinUCB, error) {
	q := `SELECT state FROM predictor_state WHERE name = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	pol := policy.New(policy.DefaultActions(), policy.Dim, policy.DefaultConfig())
	var raw []byte
	err := tx.QueryRow(ctx, q, policyStateName).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return pol, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	if err := json.Unmarshal(raw, pol); err != nil {
		// State in a format this version cannot read (an upgrade changed the policy's
		// model): start learning afresh rather than stop predicting, and say why.
		slog.WarnContext(ctx, "policy state discarded, learning afresh", "reason", err)
		return policy.New(policy.DefaultActions(), policy.Dim, policy.DefaultConfig()), nil
	}
	return pol, nil
}

// Build is the service's factory for service.Main: the predictor without replays
// (BuildWith).
func Build(ctx context.Context, rt *service.Runtime) (service.Component, error) {
	return BuildWith(nil)(ctx, rt)
}

// BuildWith is the service's factory for the all-in-one binary: contention is reported
// against this host's capacity, or the sim provider's quota. On the sim provider, whose
// machines are the catalog's, r replays each finished workflow under the other actions
// (Options.Replayer); on local host slices, which the catalog does not price, a replay's
// cost could not be set beside the played one's, and there is none.
func BuildWith(r policy.Replayer) service.Factory {
	return func(ctx context.Context, rt *service.Runtime) (service.Component, error) {
		cores, mem := service.Host(rt.Config)
		opts := Options{CapacityCores: cores, CapacityMemoryBytes: mem}
		if rt.Config.Provider == "sim" {
			q := catalog.Default().Quotas
			opts.CapacityCores, opts.CapacityMemoryBytes = q.MaxCores, 0 // memory is bounded per type, not by a quota
			opts.PoolForecast.Interval = time.Minute                     // a cloud pool has standing targets to set
			opts.Replayer = r
		}
		return New(rt, opts), nil
	}
}
