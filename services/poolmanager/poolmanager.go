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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sony/gobreaker/v2"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/poolmanager/agent"
	"github.com/foresight-run/foresight/services/poolmanager/pool"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/breaker"
	"github.com/foresight-run/foresight/services/poolmanager/provider/local"
	"github.com/foresight-run/foresight/services/poolmanager/provider/sim"
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
	// Catalog and Breakers let a launch refused for provider health fall back to another
	// type or tier (pool.Fallback); without them it is retried as planned.
	Catalog  catalog.Catalog
	Breakers pool.Breakers
	// PoolType is the instance type of the standing pool; empty keeps no standing pool.
	PoolType string
}

// Service is the pool manager.
type Service struct {
	rt   *service.Runtime
	log  *slog.Logger
	opts Options

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}

	// crashAfterLaunch, set only by tests, runs between the provider call and the commit:
	// an error there models the process dying at the worst moment.
	crashAfterLaunch func() error
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
	if err := s.rt.SubscribeAll(ctx,
		service.TxSub{Durable: "poolmanager-plan-ready", Type: events.TypePlanReady, Concurrency: 4, Handler: s.onPlanReady},
		service.TxSub{Durable: "poolmanager-workflow-completed", Type: events.TypeWorkflowCompleted, Concurrency: 4, Handler: s.onWorkflowCompleted},
		// One at a time: targets reconcile the whole pool.
		service.TxSub{Durable: "poolmanager-pool-forecast", Type: events.TypePoolForecast, Concurrency: 1, Handler: s.onPoolForecast},
		service.TxSub{Durable: "poolmanager-vm-idle", Type: events.TypeVMIdle, Concurrency: 4, Handler: s.onVMIdle},
		service.TxSub{Durable: "poolmanager-vm-unneeded", Type: events.TypeVMUnneeded, Concurrency: 4, Handler: s.onVMUnneeded},
	); err != nil {
		return err
	}
	if s.opts.Agent.WorkDir != "" {
		// This process is the agent of its VMs: with the local provider they are slices of
		// this host, with sim the simulator models the cloud while tasks run here.
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
	// Request times count from the plan's origin (its first version), not from now: a
	// re-plan made an hour in asks for its VMs at its own times.
	origin := plan.PlannedAt
	if origin.IsZero() {
		origin = now
	}
	for _, r := range plan.VMRequests {
		launchAt := origin.Add(time.Duration(r.RequestAtSeconds * float64(time.Second)))
		if r.PoolVMID != "" {
			claimed, err := s.claim(ctx, tx, r, plan.WorkflowID, launchAt)
			if err != nil {
				return err
			}
			if claimed {
				continue
			}
			// Gone from the pool: launch one instead, as a cold request.
			r.Tier, r.Reason = events.TierCold, "pool VM "+r.PoolVMID+" was taken; launching instead: "+r.Reason
		}
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
		`SELECT key, coalesce(vm_id, ''), instance_type, state FROM vms
		 WHERE workflow_id = $1 AND state NOT IN ('terminated', 'failed') ORDER BY key FOR UPDATE`, done.WorkflowID)
	if err != nil {
		return fmt.Errorf("load vms: %w", err)
	}
	type vm struct{ key, id, typ, state string }
	var vms []vm
	for rows.Next() {
		var v vm
		if err := rows.Scan(&v.key, &v.id, &v.typ, &v.state); err != nil {
			rows.Close()
			return err
		}
		vms = append(vms, v)
	}
	rows.Close()
	now := s.rt.Clock.Now()
	for _, v := range vms {
		to, err := s.releaseToPool(ctx, tx, v.key, v.id, v.typ, pool.State(v.state))
		if err != nil {
			return err
		}
		reason := "workflow " + done.Status
		if to != pool.StateTerminated {
			reason += "; returned to the standing pool"
		}
		rel := events.VMReleased{VMID: v.id, WorkflowID: done.WorkflowID, State: string(to), Reason: reason}
		if err := outbox.Emit(ctx, tx, events.DerivedID(v.key, "released"), Source, done.WorkflowID, now, rel); err != nil {
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

// launchDue launches one due VM request, holding its row lock across the provider call,
// or finishes one whose provider-side boot is due. It returns how many rows it handled.
func (s *Service) launchDue(ctx context.Context) (int, error) {
	n, err := s.readyDue(ctx)
	if n > 0 || err != nil {
		return n, err
	}
	if n, err := s.startDue(ctx); n > 0 || err != nil {
		return n, err
	}
	tx, err := s.rt.Pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var r vmRow
	err = tx.QueryRow(ctx,
		`SELECT key, coalesce(provider_key, key), coalesce(workflow_id::text, ''), instance_type, tier, cores, memory_bytes, requested_at FROM vms
		 WHERE state = 'requested' AND launch_at <= $1 ORDER BY launch_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
		s.rt.Clock.Now()).Scan(&r.key, &r.providerKey, &r.workflowID, &r.instanceType, &r.tier, &r.cores, &r.mem, &r.requestedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("select due vm: %w", err)
	}
	log := s.log.With("workflow_id", r.workflowID, "vm_key", r.key)
	vm, err := s.opts.Provider.Launch(ctx, provider.Spec{Key: r.providerKey, WorkflowID: r.workflowID,
		InstanceType: r.instanceType, Cores: r.cores, MemoryBytes: r.mem})
	if s.crashAfterLaunch != nil {
		if cerr := s.crashAfterLaunch(); cerr != nil {
			return 0, cerr // the test's "process died here": nothing commits
		}
	}
	now := s.rt.Clock.Now()
	if err != nil {
		if errors.Is(err, breaker.ErrOpen) || provider.IsHealthError(err) {
			return 1, errors.Join(s.fallBack(ctx, tx, r, err, log), tx.Commit(ctx))
		}
		log.Error("launch refused", "err", err)
		if err := s.transition(ctx, tx, r.key, pool.StateRequested, pool.EventFail); err != nil {
			return 0, err
		}
		rel := events.VMReleased{WorkflowID: r.workflowID, State: string(pool.StateFailed), Reason: err.Error()}
		if err := outbox.Emit(ctx, tx, events.DerivedID(r.key, "failed"), Source, r.workflowID, now, rel); err != nil {
			return 0, err
		}
		return 1, tx.Commit(ctx)
	}
	if err := s.transition(ctx, tx, r.key, pool.StateRequested, pool.EventProvision); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE vms SET vm_id = $2, ready_at = $3 WHERE key = $1`, r.key, vm.ID, vm.ReadyAt); err != nil {
		return 0, fmt.Errorf("record vm %s: %w", vm.ID, err)
	}
	if vm.State == provider.StateRunning && !vm.ReadyAt.After(now) {
		if err := s.ready(ctx, tx, r, vm, now); err != nil {
			return 0, err
		}
	} else {
		log.Info("vm provisioning", "vm_id", vm.ID, "ready_at", vm.ReadyAt)
	}
	return 1, tx.Commit(ctx)
}

// vmRow is a vms row the launcher works on.
type vmRow struct {
	key, providerKey, workflowID, instanceType, tier, fallback string
	cores                                                      float64
	mem                                                        int64
	requestedAt                                                time.Time
	starts                                                     int
	// planKey is the plan's key for the VM, which a relaunch keeps (announced as Key).
	planKey string
}

// readyDue checks one provisioning VM whose boot should be over.
func (s *Service) readyDue(ctx context.Context) (int, error) {
	tx, err := s.rt.Pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var r vmRow
	var vmID string
	err = tx.QueryRow(ctx,
		`SELECT key, coalesce(workflow_id::text, ''), instance_type, tier, cores, memory_bytes, requested_at, vm_id, reason, starts, coalesce(plan_key, key) FROM vms
		 WHERE state = 'provisioning' AND ready_at <= $1 ORDER BY ready_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
		s.rt.Clock.Now()).Scan(&r.key, &r.workflowID, &r.instanceType, &r.tier, &r.cores, &r.mem, &r.requestedAt, &vmID, &r.fallback, &r.starts, &r.planKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("select provisioning vm: %w", err)
	}
	vm, err := s.opts.Provider.Describe(ctx, vmID)
	now := s.rt.Clock.Now()
	switch {
	case err != nil && provider.IsHealthError(err):
		_, _ = tx.Exec(ctx, `UPDATE vms SET ready_at = $2 WHERE key = $1`, r.key, now.Add(2*time.Second))
	case err != nil || vm.State == provider.StateFailed || vm.State == provider.StateTerminated:
		if err := s.transition(ctx, tx, r.key, pool.StateProvisioning, pool.EventFail); err != nil {
			return 0, err
		}
		rel := events.VMReleased{VMID: vmID, WorkflowID: r.workflowID, State: string(pool.StateFailed), Reason: fmt.Sprintf("boot failed: %v", err)}
		if err := outbox.Emit(ctx, tx, events.DerivedID(r.key, "failed"), Source, r.workflowID, now, rel); err != nil {
			return 0, err
		}
	case vm.State == provider.StateRunning && !vm.ReadyAt.After(now):
		if err := s.ready(ctx, tx, r, vm, now); err != nil {
			return 0, err
		}
	default:
		_, _ = tx.Exec(ctx, `UPDATE vms SET ready_at = $2 WHERE key = $1`, r.key, maxTime(vm.ReadyAt, now.Add(100*time.Millisecond)))
	}
	return 1, tx.Commit(ctx)
}

// ready marks a VM hot and announces it.
func (s *Service) ready(ctx context.Context, tx pgx.Tx, r vmRow, vm provider.VM, now time.Time) error {
	if err := s.transition(ctx, tx, r.key, pool.StateProvisioning, pool.EventReady); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE vms SET ready_at = $2 WHERE key = $1`, r.key, vm.ReadyAt); err != nil {
		return err
	}
	planKey := r.planKey
	if planKey == "" {
		planKey = r.key
	}
	ev := events.VMProvisioned{VMID: vm.ID, WorkflowID: r.workflowID, Key: planKey, Provider: s.opts.Provider.Name(),
		InstanceType: vm.InstanceType, Tier: r.tier, Cores: vm.Cores, MemoryBytes: vm.MemoryBytes, ReadyAt: vm.ReadyAt,
		LaunchSeconds: vm.ReadyAt.Sub(r.requestedAt).Seconds()}
	if strings.HasPrefix(r.fallback, "fallback: ") {
		ev.Fallback = r.fallback
	}
	s.log.Info("vm provisioned", "workflow_id", r.workflowID, "vm_id", vm.ID, "cores", vm.Cores, "type", vm.InstanceType)
	// Each start of the VM is announced once: the id carries the start count.
	return outbox.Emit(ctx, tx, events.DerivedID(r.key, "provisioned", strconv.Itoa(r.starts)), Source, r.workflowID, now, ev)
}

// fallBack handles a launch refused for provider health. While the breaker is closed the
// launch is retried later with the same key. Once it is open, and the catalog offers
// another type or tier whose breaker is closed, the request switches to it under a new
// provider key (committed before that key is ever used).
func (s *Service) fallBack(ctx context.Context, tx pgx.Tx, r vmRow, cause error, log *slog.Logger) error {
	now := s.rt.Clock.Now()
	retry := func() error {
		_, err := tx.Exec(ctx, `UPDATE vms SET launch_at = $2, updated_at = $2 WHERE key = $1`, r.key, now.Add(2*time.Second))
		return errors.Join(fmt.Errorf("launch %s: %w", r.key, cause), err)
	}
	if !errors.Is(cause, breaker.ErrOpen) || s.opts.Breakers == nil || len(s.opts.Catalog.Types) == 0 {
		return retry() // a transient error: same key, a little later
	}
	opt, why, err := pool.Fallback(pool.Request{Option: pool.Option{Tier: r.tier, InstanceType: r.instanceType}, Cores: r.cores, MemoryBytes: r.mem},
		s.opts.Catalog, s.opts.Breakers)
	if err != nil || (opt.InstanceType == r.instanceType && opt.Tier == r.tier) {
		return retry()
	}
	log.Warn("launch falls back", "from", r.instanceType, "to", opt.InstanceType, "tier", opt.Tier, "why", why)
	it, _ := s.opts.Catalog.Type(opt.InstanceType)
	_, err = tx.Exec(ctx,
		`UPDATE vms SET provider_key = $2, instance_type = $3, tier = $4, cores = $5, memory_bytes = $6, reason = $7, updated_at = $8 WHERE key = $1`,
		r.key, events.DerivedID(r.key, "fallback", opt.Tier, opt.InstanceType), opt.InstanceType, opt.Tier, it.Cores, it.MemoryBytes,
		"fallback: "+why, now)
	return err
}

// transition moves a VM's state through the lifecycle state machine, refusing illegal
// moves, and announces it (vm-state-changed) in the same transaction. A VM no longer in
// from (another handler moved it first) is left alone.
func (s *Service) transition(ctx context.Context, tx pgx.Tx, key string, from pool.State, ev pool.Event) error {
	to, err := pool.Transition(from, ev)
	if err != nil {
		return bus.Permanent(fmt.Errorf("vm %s: %w", key, err))
	}
	now := s.rt.Clock.Now()
	var vmID, workflowID string
	var seq int
	err = tx.QueryRow(ctx,
		`UPDATE vms SET state = $2, updated_at = $3, transitions = transitions + 1 WHERE key = $1 AND state = $4
		 RETURNING coalesce(vm_id, ''), coalesce(workflow_id::text, ''), transitions`,
		key, string(to), now, string(from)).Scan(&vmID, &workflowID, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vm %s %s: %w", key, ev, err)
	}
	ch := events.VMStateChanged{VMID: vmID, Key: key, WorkflowID: workflowID, From: string(from), To: string(to), Event: string(ev), At: now.UTC(), Seq: seq}
	return outbox.Emit(ctx, tx, events.DerivedID(key, "transition", strconv.Itoa(seq)), Source, workflowID, now, ch)
}

// assign marks a VM busy when a task starts on it (hot_idle or idle --assign--> busy).
// Most starts land on a VM that is busy already, so the state is read without a lock;
// transition's compare-and-set settles a race with another start or a scale-in. Locking
// the row for every start made all tasks on one VM queue behind each other.
func (s *Service) assign(ctx context.Context, vmID string) error {
	var key, state string
	err := s.rt.Pool.QueryRow(ctx, `SELECT key, state FROM vms WHERE vm_id = $1`, vmID).Scan(&key, &state)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && state != string(pool.StateHotIdle) && state != string(pool.StateIdle)) {
		return nil // busy already, or a VM this pool manager does not track
	}
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.rt.Pool, func(tx pgx.Tx) error {
		return s.transition(ctx, tx, key, pool.State(state), pool.EventAssign)
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
	if err := s.assign(ctx, d.VMID); err != nil {
		return fmt.Errorf("mark vm busy: %w", err)
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

// recordBreaker persists each breaker's state change, which the allocator reads to plan
// around open ones. A failed write is logged: the breaker itself still protects launches.
func recordBreaker(rt *service.Runtime) func(breaker.Scope, gobreaker.State, gobreaker.State) {
	return func(scope breaker.Scope, from, to gobreaker.State) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := rt.Pool.Exec(ctx, `INSERT INTO provider_breakers (scope, tier, instance_type, state, updated_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
			scope.String(), scope.Tier, scope.InstanceType, to.String(), rt.Clock.Now()); err != nil {
			rt.Log.Warn("record breaker state", "scope", scope.String(), "state", to.String(), "err", err)
		}
		rt.Log.Warn("circuit breaker", "scope", scope.String(), "from", from.String(), "to", to.String())
	}
}

// Build is the service's factory for service.Main and the all-in-one binary: the local
// provider slices this host, and its agents run tasks under the configured work dir.
func Build(ctx context.Context, rt *service.Runtime) (service.Component, error) {
	opts := Options{Agent: agent.Options{WorkDir: rt.Config.WorkDir, ReplayScale: rt.Config.ReplayScale}}
	switch rt.Config.Provider {
	case "sim":
		// A simulated cloud in real time: catalog latencies, billing and quotas, behind
		// circuit breakers; tasks still run on this host.
		cat := catalog.Default()
		sp, err := sim.New(sim.Options{Catalog: cat, Clock: rt.Clock, Seed: 1})
		if err != nil {
			return nil, err
		}
		b := breaker.New(sp, breaker.Settings{OnStateChange: recordBreaker(rt)})
		opts.Provider, opts.Breakers, opts.Catalog = b, b, cat
		if it, ok := cat.CheapestFit(2, 4<<30); ok {
			opts.PoolType = it.Name
		}
	default:
		// Every provider sits behind a breaker, the local one too: its calls cannot fail for
		// health reasons today, but the pool manager's code path is the same for all.
		cores, mem := service.Host(rt.Config)
		opts.Provider = breaker.New(local.New(rt.Clock, cores, mem), breaker.Settings{})
	}
	return New(rt, opts), nil
}
