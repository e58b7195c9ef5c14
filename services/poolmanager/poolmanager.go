// Package poolmanager is the pool manager service's shell: it records the VM requests of
// each plan, launches them when the plan says (proactively, through the provider), runs
// the agents of local VMs, and releases a workflow's VMs when it completes.
//
// Launch safety: the VM row, keyed by the plan's idempotency key, is committed before the
// provider is called, and the call happens while the launcher holds that row's lock. A
// crash after the call but before the commit leaves the row "requested"; the retry calls
// the provider with the same key, and an idempotent provider returns the VM it already
// made. No key ever yields two VMs.
package poolmanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/poolmanager/agent"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/local"
)

// Source is the CloudEvents source of the pool manager's events.
const Source = "foresight/poolmanager"

// Options configure the pool manager.
type Options struct {
	Provider provider.Provider
	Agent    agent.Options
	// LaunchPoll is how often the launcher looks for due VM requests.
	LaunchPoll time.Duration
	// AgentConcurrency bounds how many tasks this process's agents run at once.
	AgentConcurrency int
}

// Service is the pool manager.
type Service struct {
	rt   *service.Runtime
	log  *slog.Logger
	opts Options

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// New returns a pool manager on rt.
func New(rt *service.Runtime, opts Options) *Service {
	if opts.LaunchPoll <= 0 {
		opts.LaunchPoll = 100 * time.Millisecond
	}
	if opts.AgentConcurrency <= 0 {
		opts.AgentConcurrency = 64
	}
	return &Service{rt: rt, log: rt.Log.With("component", "poolmanager"), opts: opts}
}

// Start subscribes the consumers and starts the launcher.
func (s *Service) Start(ctx context.Context) error {
	if err := s.rt.Subscribe(ctx, bus.Subscription{
		Durable: "poolmanager-plan-ready", Type: events.TypePlanReady, Concurrency: 4,
		Handler: bus.Transactional(s.rt.Pool, "poolmanager-plan-ready", s.onPlanReady),
	}); err != nil {
		return err
	}
	if err := s.rt.Subscribe(ctx, bus.Subscription{
		Durable: "poolmanager-workflow-completed", Type: events.TypeWorkflowCompleted, Concurrency: 4,
		Handler: bus.Transactional(s.rt.Pool, "poolmanager-workflow-completed", s.onWorkflowCompleted),
	}); err != nil {
		return err
	}
	if s.opts.Provider.Name() == "local" {
		if err := s.rt.Subscribe(ctx, bus.Subscription{
			Durable: "agent-task-dispatched", Type: events.TypeTaskDispatched,
			Concurrency: s.opts.AgentConcurrency, MaxDeliver: 20,
			Handler: s.runTask,
		}); err != nil {
			return err
		}
	}
	var lctx context.Context
	lctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go s.launcher(lctx)
	return nil
}

// Stop stops the launcher. Idempotent.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
	})
}

func (s *Service) onPlanReady(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	plan, err := bus.Decode[events.PlanReady](env)
	if err != nil {
		return err
	}
	now := s.rt.Clock.Now()
	for _, r := range plan.VMRequests {
		launchAt := now.Add(time.Duration(r.RequestAtSeconds * float64(time.Second)))
		if _, err := tx.Exec(ctx,
			`INSERT INTO vms (key, workflow_id, provider, instance_type, tier, cores, memory_bytes, state, requested_at, launch_at, reason)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $9, $10) ON CONFLICT (key) DO NOTHING`,
			r.Key, plan.WorkflowID, s.opts.Provider.Name(), r.InstanceType, r.Tier, r.Cores, r.MemoryBytes, now, launchAt, r.Reason); err != nil {
			return fmt.Errorf("record vm request %s: %w", r.Key, err)
		}
	}
	return nil
}

func (s *Service) onWorkflowCompleted(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	done, err := bus.Decode[events.WorkflowCompleted](env)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx,
		`UPDATE vms SET state = 'terminated', released_at = $2, updated_at = $2
		 WHERE workflow_id = $1 AND state NOT IN ('terminated', 'failed') RETURNING key, coalesce(vm_id, '')`,
		done.WorkflowID, s.rt.Clock.Now())
	if err != nil {
		return fmt.Errorf("release vms: %w", err)
	}
	type vm struct{ key, id string }
	var vms []vm
	for rows.Next() {
		var v vm
		if err := rows.Scan(&v.key, &v.id); err != nil {
			rows.Close()
			return err
		}
		vms = append(vms, v)
	}
	rows.Close()
	for _, v := range vms {
		if v.id != "" {
			if err := s.opts.Provider.Terminate(ctx, v.id); err != nil && !errors.Is(err, provider.ErrNotFound) {
				return fmt.Errorf("terminate %s: %w", v.id, err)
			}
		}
		rel := events.VMReleased{VMID: v.id, WorkflowID: done.WorkflowID, State: "terminated", Reason: "workflow " + done.Status}
		if err := outbox.Emit(ctx, tx, events.DerivedID(v.key, "released"), Source, done.WorkflowID, s.rt.Clock.Now(), rel); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) launcher(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.LaunchPoll)
	defer t.Stop()
	for {
		for {
			n, err := s.launchDue(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("launch", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// launchDue launches one due VM request, holding its row lock across the provider call.
func (s *Service) launchDue(ctx context.Context) (int, error) {
	tx, err := s.rt.Pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var (
		key, workflowID, instanceType, tier string
		cores                               float64
		mem                                 int64
		requestedAt                         time.Time
	)
	err = tx.QueryRow(ctx,
		`SELECT key, workflow_id::text, instance_type, tier, cores, memory_bytes, requested_at FROM vms
		 WHERE state = 'requested' AND launch_at <= $1 ORDER BY launch_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
		s.rt.Clock.Now()).Scan(&key, &workflowID, &instanceType, &tier, &cores, &mem, &requestedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("select due vm: %w", err)
	}
	log := s.log.With("workflow_id", workflowID, "vm_key", key)
	vm, err := s.opts.Provider.Launch(ctx, provider.Spec{Key: key, WorkflowID: workflowID, InstanceType: instanceType, Cores: cores, MemoryBytes: mem})
	now := s.rt.Clock.Now()
	if err != nil {
		if provider.IsHealthError(err) {
			// Transient: keep the row requested and try again later with the same key.
			_, _ = tx.Exec(ctx, `UPDATE vms SET launch_at = $2, updated_at = $2 WHERE key = $1`, key, now.Add(2*time.Second))
			return 1, errors.Join(fmt.Errorf("launch %s: %w", key, err), tx.Commit(ctx))
		}
		log.Error("launch refused", "err", err)
		if _, err := tx.Exec(ctx, `UPDATE vms SET state = 'failed', updated_at = $2 WHERE key = $1`, key, now); err != nil {
			return 0, err
		}
		rel := events.VMReleased{WorkflowID: workflowID, State: "failed", Reason: err.Error()}
		if err := outbox.Emit(ctx, tx, events.DerivedID(key, "failed"), Source, workflowID, now, rel); err != nil {
			return 0, err
		}
		return 1, tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx,
		`UPDATE vms SET vm_id = $2, state = 'hot_idle', ready_at = $3, updated_at = $3 WHERE key = $1`, key, vm.ID, vm.ReadyAt); err != nil {
		return 0, fmt.Errorf("record vm %s: %w", vm.ID, err)
	}
	ev := events.VMProvisioned{VMID: vm.ID, WorkflowID: workflowID, Key: key, Provider: s.opts.Provider.Name(),
		InstanceType: vm.InstanceType, Tier: tier, Cores: vm.Cores, MemoryBytes: vm.MemoryBytes, ReadyAt: vm.ReadyAt,
		LaunchSeconds: vm.ReadyAt.Sub(requestedAt).Seconds()}
	if err := outbox.Emit(ctx, tx, events.DerivedID(key, "provisioned"), Source, workflowID, now, ev); err != nil {
		return 0, err
	}
	log.Info("vm provisioned", "vm_id", vm.ID, "cores", vm.Cores)
	return 1, tx.Commit(ctx)
}

// runTask is the local agent: it runs a dispatched task exactly once per attempt. The
// attempt is recorded before the process starts; a redelivery of an attempt that already
// finished is acked without running; an attempt that was running when the process died is
// run again (its process died with it).
func (s *Service) runTask(ctx context.Context, env events.Envelope) error {
	d, err := bus.Decode[events.TaskDispatched](env)
	if err != nil {
		return err
	}
	log := s.log.With("workflow_id", d.WorkflowID, "task_id", d.TaskID, "attempt", d.Attempt, "vm_id", d.VMID)
	var finished bool
	err = s.rt.Pool.QueryRow(ctx,
		`INSERT INTO agent_runs (workflow_id, task_id, attempt, vm_id, started_at) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (workflow_id, task_id, attempt) DO UPDATE SET started_at = CASE WHEN agent_runs.finished_at IS NULL THEN EXCLUDED.started_at ELSE agent_runs.started_at END
		 RETURNING finished_at IS NOT NULL`,
		d.WorkflowID, d.TaskID, d.Attempt, d.VMID, time.Now()).Scan(&finished)
	if err != nil {
		return fmt.Errorf("record agent run: %w", err)
	}
	if finished {
		log.Info("attempt already finished; not running it again")
		return nil
	}
	opts := s.opts.Agent
	opts.WorkDir = fmt.Sprintf("%s/%s", opts.WorkDir, d.WorkflowID)
	log.Info("task started")
	res, err := agent.Run(ctx, d.Task, opts)
	if err != nil {
		return fmt.Errorf("run %s: %w", d.TaskID, err)
	}
	log.Info("task finished", "status", res.Status, "runtime_s", res.RuntimeSeconds)
	obs := events.TaskObserved{WorkflowID: d.WorkflowID, TaskID: d.TaskID, Attempt: d.Attempt, VMID: d.VMID,
		Status: res.Status, ExitCode: res.ExitCode, StartedAt: res.StartedAt.UTC(), FinishedAt: res.FinishedAt.UTC(),
		RuntimeSeconds: res.RuntimeSeconds, CPUSeconds: res.CPUSeconds, PeakRSSBytes: res.PeakRSSBytes, Error: res.Error}
	return pgx.BeginFunc(context.WithoutCancel(ctx), s.rt.Pool, func(tx pgx.Tx) error {
		if _, err := bus.MarkProcessed(ctx, tx, "agent-task-dispatched", env.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE agent_runs SET finished_at = $4, status = $5 WHERE workflow_id = $1 AND task_id = $2 AND attempt = $3`,
			d.WorkflowID, d.TaskID, d.Attempt, res.FinishedAt, res.Status); err != nil {
			return err
		}
		return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "observed"), Source, d.WorkflowID, time.Now(), obs)
	})
}

// Build is the service's factory for service.Main and the all-in-one binary: the local
// provider slices this host, and its agents run tasks under the configured work dir.
func Build(ctx context.Context, rt *service.Runtime) (service.Component, error) {
	if rt.Config.Provider != "local" {
		return nil, fmt.Errorf("FORESIGHT_PROVIDER %q: only local runs real tasks; sim runs inside foresight bench", rt.Config.Provider)
	}
	cores, mem := service.Host(rt.Config)
	return New(rt, Options{
		Provider: local.New(rt.Clock, cores, mem),
		Agent:    agent.Options{WorkDir: rt.Config.WorkDir, ReplayScale: rt.Config.ReplayScale},
	}), nil
}
