// Package allocator is the allocator service's shell: it turns demand-predicted into a
// versioned plan (plan-ready), tracks the VMs the pool provisions for each workflow, and
// dispatches each task when its parents have succeeded (task-dispatched). Decisions live
// in the planner and dispatch packages; this package reads events, calls them, writes
// Postgres and emits events through the outbox.
package allocator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/allocator/dispatch"
)

// Source is the CloudEvents source of everything the allocator publishes.
const Source = "foresight/allocator"

// Service is the allocator.
type Service struct {
	rt      *service.Runtime
	log     *slog.Logger
	planner Planner
}

// Planner turns a demand forecast (and, on a re-plan, what already happened) into a plan.
// HostPlanner serves the local provider; CatalogPlanner plans over a cloud catalog.
type Planner func(req PlanRequest) (events.PlanReady, error)

// PlanRequest is everything a planner needs for one version of a workflow's plan.
type PlanRequest struct {
	Demand  events.DemandPredicted
	Version int
	// Now is seconds since the workflow started (0 for the first plan).
	Now float64
	// Done lists tasks finished or running, which a re-plan must keep where they are.
	Done []DoneTask
	// Held lists the VMs the workflow holds now.
	Held []HeldVM
	// Pool lists the standing pool's unclaimed VMs the plan may claim.
	Pool []PoolVM
	// Avoid lists provider scopes whose circuit breaker is open: the plan routes around
	// them. An empty InstanceType with Tier "" avoids the whole provider's new VMs.
	Avoid []Avoid
}

// Avoid is an instance type (and tier; "" for every tier) the plan must not launch.
type Avoid struct{ InstanceType, Tier string }

// openBreakers reads the pool manager's open circuit breakers as scopes to avoid.
func openBreakers(ctx context.Context, tx pgx.Tx) ([]Avoid, error) {
	rows, err := tx.Query(ctx, `SELECT instance_type, tier FROM provider_breakers WHERE state = 'open' ORDER BY scope`)
	if err != nil {
		return nil, fmt.Errorf("read breakers: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Avoid, error) {
		var a Avoid
		err := r.Scan(&a.InstanceType, &a.Tier)
		switch a.Tier {
		case "provider":
			a.Tier = "" // every type, every tier: expressed per type by the planner's caller
		case "control":
			a.InstanceType = "" // stop/terminate trouble does not bar launches
		}
		return a, err
	})
}

// PoolVM is an unclaimed VM of the standing pool.
type PoolVM struct {
	VMID, InstanceType string
	// Tier is events.TierHot (running) or events.TierWarm (stopped).
	Tier string
}

// standingPool reads the pool manager's unclaimed VMs. The allocator reads that table
// rather than keeping a copy: a claim is settled by the pool manager's conditional
// update, so a stale read costs at most a launch instead of a claim.
func standingPool(ctx context.Context, tx pgx.Tx) ([]PoolVM, error) {
	rows, err := tx.Query(ctx,
		`SELECT vm_id, instance_type, CASE WHEN state = 'warm' THEN 'warm' ELSE 'hot' END FROM vms
		 WHERE workflow_id IS NULL AND vm_id IS NOT NULL AND state IN ('hot_idle', 'idle', 'warm') ORDER BY vm_id LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("read standing pool: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (PoolVM, error) {
		var p PoolVM
		return p, r.Scan(&p.VMID, &p.InstanceType, &p.Tier)
	})
}

// DoneTask is a task a re-plan keeps.
type DoneTask struct {
	TaskID string
	VMID   string
	// Start and Finish are seconds since the workflow started; Finish is the predicted end
	// of a running task.
	Start, Finish float64
}

// HeldVM is a VM the workflow holds.
type HeldVM struct {
	VMID, Key, InstanceType string
	Cores                   float64
	MemoryBytes             int64
}

// New returns the allocator on rt using plan to make plans.
func New(rt *service.Runtime, plan Planner) *Service {
	return &Service{rt: rt, log: rt.Log.With("component", "allocator"), planner: plan}
}

// Start subscribes the allocator's consumers.
func (s *Service) Start(ctx context.Context) error {
	return s.rt.SubscribeAll(ctx,
		service.TxSub{Durable: "allocator-demand-predicted", Type: events.TypeDemandPredicted, Concurrency: 4, Handler: s.onDemandPredicted},
		service.TxSub{Durable: "allocator-vm-provisioned", Type: events.TypeVMProvisioned, Concurrency: 4, Handler: s.onVMProvisioned},
		service.TxSub{Durable: "allocator-vm-released", Type: events.TypeVMReleased, Concurrency: 4, Handler: s.onVMReleased},
		service.TxSub{Durable: "allocator-task-observed", Type: events.TypeTaskObserved, Concurrency: 4, Handler: s.onTaskObserved},
		service.TxSub{Durable: "allocator-replan-requested", Type: events.TypeReplanRequested, Concurrency: 4, Handler: s.onReplanRequested},
	)
}

// Stop is a no-op: the runtime's consumer owns the subscriptions.
func (s *Service) Stop() {}

func (s *Service) onDemandPredicted(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	dp, err := bus.Decode[events.DemandPredicted](env)
	if err != nil {
		return err
	}
	if dp.Revision > 0 {
		// Predictions sharpened by finished tasks: the next re-plan uses them.
		graph, _ := json.Marshal(dp)
		_, err := tx.Exec(ctx, `UPDATE allocations SET graph = $2, revision = $3 WHERE workflow_id = $1 AND revision < $3`,
			dp.WorkflowID, graph, dp.Revision)
		return err
	}
	pool, err := standingPool(ctx, tx)
	if err != nil {
		return err
	}
	avoid, err := openBreakers(ctx, tx)
	if err != nil {
		return err
	}
	plan, err := s.planner(PlanRequest{Demand: dp, Version: 1, Pool: pool, Avoid: avoid})
	if err != nil {
		return bus.Permanent(fmt.Errorf("plan %s: %w", dp.WorkflowID, err))
	}
	plan.WorkflowID, plan.Version, plan.PlannedAt = dp.WorkflowID, 1, s.rt.Clock.Now().UTC()
	graph, _ := json.Marshal(dp)
	tag, err := tx.Exec(ctx,
		`INSERT INTO allocations (workflow_id, plan_version, state, graph, planned_at) VALUES ($1, 1, 'planned', $2, $3)
		 ON CONFLICT (workflow_id) DO NOTHING`, dp.WorkflowID, graph, s.rt.Clock.Now())
	if err != nil {
		return fmt.Errorf("insert allocation: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil // already planned under another event id
	}
	planJSON, _ := json.Marshal(plan)
	if _, err := tx.Exec(ctx, `INSERT INTO plans (workflow_id, version, plan, reason) VALUES ($1, 1, $2, $3)`,
		dp.WorkflowID, planJSON, plan.Reason); err != nil {
		return fmt.Errorf("insert plan: %w", err)
	}
	if err := recordRequests(ctx, tx, plan); err != nil {
		return err
	}
	placed := make(map[string]events.Placement, len(plan.Placements))
	for _, p := range plan.Placements {
		placed[p.TaskID] = p
	}
	children := make(map[string][]string, len(dp.Graph.Tasks))
	for _, t := range dp.Graph.Tasks {
		for _, p := range t.DependsOn {
			children[p] = append(children[p], t.ID)
		}
	}
	rows := make([][]any, 0, len(dp.Graph.Tasks))
	for _, t := range dp.Graph.Tasks {
		spec, _ := json.Marshal(t.Task)
		parents := t.DependsOn
		if parents == nil {
			parents = []string{}
		}
		p, ok := placed[t.ID]
		var start *float64
		if ok {
			start = &p.StartSeconds
		}
		kids := children[t.ID]
		if kids == nil {
			kids = []string{}
		}
		rows = append(rows, []any{dp.WorkflowID, t.ID, "pending", t.CPU, t.MemoryBytes, parents, kids, len(parents), t.Retries, t.UpwardRank, p.VMKey, start, spec})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"task_runs"},
		[]string{"workflow_id", "task_id", "state", "cpu", "memory_bytes", "parents", "children", "unfinished_parents", "retries", "priority", "planned_vm", "planned_start", "spec"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("insert task runs: %w", err)
	}
	return outbox.Emit(ctx, tx, events.DerivedID(env.ID, "plan", "1"), Source, dp.WorkflowID, s.rt.Clock.Now(), plan)
}

func (s *Service) onVMProvisioned(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	vm, err := bus.Decode[events.VMProvisioned](env)
	if err != nil {
		return err
	}
	if vm.WorkflowID == "" {
		return nil // a standing pool VM: no workflow's to use until a plan claims it
	}
	if err := lockAllocation(ctx, tx, vm.WorkflowID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO allocation_vms (vm_id, workflow_id, vm_key, instance_type, cores, memory_bytes, ready_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (vm_id) DO UPDATE SET released = false, ready_at = EXCLUDED.ready_at`,
		vm.VMID, vm.WorkflowID, vm.Key, vm.InstanceType, vm.Cores, vm.MemoryBytes, vm.ReadyAt); err != nil {
		return fmt.Errorf("insert vm: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE allocation_requests SET state = 'provisioned' WHERE workflow_id = $1 AND vm_key = $2`,
		vm.WorkflowID, vm.Key); err != nil {
		return err
	}
	if err := s.dispatch(ctx, tx, vm.WorkflowID); err != nil {
		return err
	}
	// A VM that came up with nothing to run is idle from the start.
	return s.announceIdle(ctx, tx, vm.WorkflowID, env.ID)
}

func (s *Service) onVMReleased(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	vm, err := bus.Decode[events.VMReleased](env)
	if err != nil {
		return err
	}
	if vm.WorkflowID == "" {
		return nil
	}
	if err := lockAllocation(ctx, tx, vm.WorkflowID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE allocation_vms SET released = true WHERE vm_id = $1`, vm.VMID); err != nil {
		return fmt.Errorf("release vm: %w", err)
	}
	if vm.State == "failed" {
		// The plan counted on this VM: tasks sent to it come back pending, and the rest of
		// the workflow is planned again without it.
		if _, err := tx.Exec(ctx, `UPDATE task_runs SET state = 'pending' WHERE workflow_id = $1 AND vm_id = $2 AND state = 'dispatched'`,
			vm.WorkflowID, vm.VMID); err != nil {
			return err
		}
		return s.replan(ctx, tx, vm.WorkflowID, "vm failed: "+vm.Reason, env.ID)
	}
	return s.dispatch(ctx, tx, vm.WorkflowID)
}

func (s *Service) onTaskObserved(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	obs, err := bus.Decode[events.TaskObserved](env)
	if err != nil {
		return err
	}
	if err := lockAllocation(ctx, tx, obs.WorkflowID); err != nil {
		return err
	}
	var state string
	var attempt, retries int
	var children []string
	err = tx.QueryRow(ctx, `SELECT state, attempt, retries, children FROM task_runs WHERE workflow_id = $1 AND task_id = $2`,
		obs.WorkflowID, obs.TaskID).Scan(&state, &attempt, &retries, &children)
	if err != nil {
		return fmt.Errorf("load task run %s: %w", obs.TaskID, err)
	}
	if state != string(dispatch.Dispatched) || attempt != obs.Attempt {
		s.log.Info("stale observation ignored", "workflow_id", obs.WorkflowID, "task_id", obs.TaskID, "attempt", obs.Attempt)
		return nil
	}
	// The task's room on its VM is free again (before an OOM retry grows its memory).
	if _, err := tx.Exec(ctx, `
		UPDATE allocation_vms v SET used_cores = greatest(v.used_cores - r.cpu, 0), used_memory_bytes = greatest(v.used_memory_bytes - r.memory_bytes, 0)
		FROM task_runs r WHERE r.workflow_id = $1 AND r.task_id = $2 AND v.vm_id = r.vm_id`, obs.WorkflowID, obs.TaskID); err != nil {
		return fmt.Errorf("free room of %s: %w", obs.TaskID, err)
	}
	next := dispatch.Succeeded
	if obs.Status != events.StatusSucceeded {
		next = dispatch.Failed
		if attempt <= retries {
			next = dispatch.Pending // retried: dispatch bumps the attempt
		}
		if obs.Status == events.StatusOOMKilled && attempt <= retries {
			// Killed for memory: the retry asks for half as much again.
			if _, err := tx.Exec(ctx,
				`UPDATE task_runs SET memory_bytes = (memory_bytes * 1.5)::bigint,
				   spec = jsonb_set(spec, '{memory_bytes}', to_jsonb((memory_bytes * 1.5)::bigint))
				 WHERE workflow_id = $1 AND task_id = $2`, obs.WorkflowID, obs.TaskID); err != nil {
				return fmt.Errorf("grow memory of %s: %w", obs.TaskID, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE task_runs SET state = $3, finished_at = $4 WHERE workflow_id = $1 AND task_id = $2`,
		obs.WorkflowID, obs.TaskID, string(next), obs.FinishedAt); err != nil {
		return fmt.Errorf("update task run: %w", err)
	}
	switch next {
	case dispatch.Succeeded:
		// One parent fewer to wait for, for each child.
		if len(children) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE task_runs SET unfinished_parents = unfinished_parents - 1
				WHERE workflow_id = $1 AND task_id = ANY($2)`, obs.WorkflowID, children); err != nil {
				return fmt.Errorf("release children of %s: %w", obs.TaskID, err)
			}
		}
	case dispatch.Failed:
		// Failed for good: every descendant can never run (Airflow's upstream_failed).
		if len(children) > 0 {
			if _, err := tx.Exec(ctx, `
				WITH RECURSIVE below(task_id) AS (
					SELECT unnest($2::text[])
					UNION
					SELECT unnest(c.children) FROM task_runs c JOIN below b ON c.workflow_id = $1 AND c.task_id = b.task_id
				)
				UPDATE task_runs SET state = 'upstream_failed', finished_at = $3
				WHERE workflow_id = $1 AND state = 'pending' AND task_id IN (SELECT task_id FROM below)`,
				obs.WorkflowID, children, obs.FinishedAt); err != nil {
				return fmt.Errorf("mark descendants of %s: %w", obs.TaskID, err)
			}
		}
	}
	if err := s.dispatch(ctx, tx, obs.WorkflowID); err != nil {
		return err
	}
	return s.announceIdle(ctx, tx, obs.WorkflowID, env.ID)
}

// announceIdle tells the pool manager about every VM of the workflow that has no task
// running, and when the plan next needs it, so scale-in can look ahead. A VM is announced
// again only when that answer changes (by more than idleResolution, or between "some
// time" and "never"): a VM kept hot for a task that then ran elsewhere is looked at again,
// and a quiet VM is not announced on every event. A finished workflow's VMs are released
// by its completion instead.
func (s *Service) announceIdle(ctx context.Context, tx pgx.Tx, workflowID, causeID string) error {
	var state string
	var plannedAt *time.Time
	if err := tx.QueryRow(ctx, `SELECT state, planned_at FROM allocations WHERE workflow_id = $1`, workflowID).Scan(&state, &plannedAt); err != nil {
		return fmt.Errorf("load allocation: %w", err)
	}
	if state == "done" {
		return nil
	}
	if err := s.cancelUnneeded(ctx, tx, workflowID, causeID); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `
		SELECT v.vm_id, v.vm_key, coalesce(v.idle_key, ''),
		       (SELECT min(planned_start) FROM task_runs r WHERE r.workflow_id = $1 AND r.planned_vm = v.vm_key AND r.state = 'pending')
		FROM allocation_vms v
		WHERE v.workflow_id = $1 AND NOT v.released AND v.used_cores < 1e-9 AND v.used_memory_bytes <= 0
		ORDER BY v.vm_id`, workflowID)
	if err != nil {
		return fmt.Errorf("find idle vms: %w", err)
	}
	type idleVM struct {
		id, key, announced string
		next               *float64
	}
	var idle []idleVM
	for rows.Next() {
		var v idleVM
		if err := rows.Scan(&v.id, &v.key, &v.announced, &v.next); err != nil {
			rows.Close()
			return err
		}
		idle = append(idle, v)
	}
	rows.Close()
	now := s.rt.Clock.Now()
	for _, v := range idle {
		ev := events.VMIdle{VMID: v.id, WorkflowID: workflowID, Key: v.key}
		key := "never"
		if v.next != nil {
			// Planned starts count from when the first plan was made.
			in := *v.next
			if plannedAt != nil {
				in -= now.Sub(*plannedAt).Seconds()
			}
			in = max(in, 0)
			ev.NextNeedSeconds = &in
			key = now.Add(time.Duration(in * float64(time.Second))).Truncate(idleResolution).UTC().Format(time.RFC3339)
		}
		if key == v.announced {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE allocation_vms SET idle_key = $2 WHERE vm_id = $1`, v.id, key); err != nil {
			return err
		}
		if err := outbox.Emit(ctx, tx, events.DerivedID(causeID, "idle", v.id), Source, workflowID, now, ev); err != nil {
			return err
		}
	}
	return nil
}

// cancelUnneeded announces every requested VM that is not up yet and has no pending task
// planned on it any more (dispatch ran them elsewhere): the pool manager cancels it, or
// terminates it while it boots, before it costs a minimum charge.
func (s *Service) cancelUnneeded(ctx context.Context, tx pgx.Tx, workflowID, causeID string) error {
	rows, err := tx.Query(ctx, `
		UPDATE allocation_requests q SET state = 'unneeded'
		WHERE q.workflow_id = $1 AND q.state = 'requested'
		  AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.workflow_id = $1 AND r.planned_vm = q.vm_key AND r.state = 'pending')
		RETURNING q.vm_key`, workflowID)
	if err != nil {
		return fmt.Errorf("find unneeded requests: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	now := s.rt.Clock.Now()
	for _, k := range keys {
		ev := events.VMUnneeded{WorkflowID: workflowID, Key: k, Reason: "every task planned on it was dispatched elsewhere"}
		if err := outbox.Emit(ctx, tx, events.DerivedID(causeID, "unneeded", k), Source, workflowID, now, ev); err != nil {
			return err
		}
	}
	return nil
}

// recordRequests adds a plan's VM requests to the workflow's ledger of requested VMs.
func recordRequests(ctx context.Context, tx pgx.Tx, plan events.PlanReady) error {
	for _, r := range plan.VMRequests {
		if _, err := tx.Exec(ctx, `INSERT INTO allocation_requests (workflow_id, vm_key, state) VALUES ($1, $2, 'requested')
			ON CONFLICT DO NOTHING`, plan.WorkflowID, r.Key); err != nil {
			return fmt.Errorf("record vm request: %w", err)
		}
	}
	return nil
}

// idleResolution is how much a VM's next need must move before it is announced again.
const idleResolution = 10 * time.Second

// lockAllocation serialises every allocator handler of one workflow, so two concurrent
// events never dispatch the same room twice.
func lockAllocation(ctx context.Context, tx pgx.Tx, workflowID string) error {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM allocations WHERE workflow_id = $1 FOR UPDATE`, workflowID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		// The plan is committed before any VM or task event about it can exist; a miss is
		// a workflow this allocator never planned.
		return bus.Permanent(fmt.Errorf("no allocation for workflow %s", workflowID))
	}
	return err
}

// dispatch starts every task that is ready and fits, in the caller's transaction.
func (s *Service) dispatch(ctx context.Context, tx pgx.Tx, workflowID string) error {
	// Only what can change now: tasks whose parents all succeeded, and each VM's free room.
	// Readiness (unfinished_parents) and room in use (used_cores, used_memory_bytes) are
	// kept incrementally, so an event does not re-read the workflow; Decide sees the ready
	// tasks as parentless and each VM as the size of its free room.
	rows, err := tx.Query(ctx,
		`SELECT task_id, state, cpu, memory_bytes, priority, planned_vm, coalesce(vm_id, '') FROM task_runs
		 WHERE workflow_id = $1 AND state = 'pending' AND unfinished_parents = 0`, workflowID)
	if err != nil {
		return fmt.Errorf("load task runs: %w", err)
	}
	var tasks []dispatch.Task
	for rows.Next() {
		var t dispatch.Task
		var st string
		if err := rows.Scan(&t.ID, &st, &t.CPU, &t.MemoryBytes, &t.Priority, &t.PlannedVM, &t.VM); err != nil {
			rows.Close()
			return fmt.Errorf("scan task run: %w", err)
		}
		t.State = dispatch.State(st)
		tasks = append(tasks, t)
	}
	rows.Close()
	if len(tasks) == 0 {
		return s.markProgress(ctx, tx, workflowID, nil)
	}
	vmRows, err := tx.Query(ctx, `SELECT vm_id, vm_key, cores - used_cores, memory_bytes - used_memory_bytes FROM allocation_vms
		WHERE workflow_id = $1 AND NOT released`, workflowID)
	if err != nil {
		return fmt.Errorf("load vms: %w", err)
	}
	vms, err := pgx.CollectRows(vmRows, func(r pgx.CollectableRow) (dispatch.VM, error) {
		var v dispatch.VM
		return v, r.Scan(&v.ID, &v.Key, &v.Cores, &v.MemoryBytes)
	})
	if err != nil {
		return fmt.Errorf("scan vms: %w", err)
	}

	d := dispatch.Decide(tasks, vms)
	now := s.rt.Clock.Now()
	if len(d.Blocked) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE task_runs SET state = 'upstream_failed', finished_at = $3 WHERE workflow_id = $1 AND task_id = ANY($2)`,
			workflowID, d.Blocked, now); err != nil {
			return fmt.Errorf("mark upstream failed: %w", err)
		}
	}
	var planVersion int
	if err := tx.QueryRow(ctx, `SELECT plan_version FROM allocations WHERE workflow_id = $1`, workflowID).Scan(&planVersion); err != nil {
		return err
	}
	for _, a := range d.Start {
		var attempt int
		var spec []byte
		if err := tx.QueryRow(ctx,
			`UPDATE task_runs SET state = 'dispatched', attempt = attempt + 1, vm_id = $3, dispatched_at = $4
			 WHERE workflow_id = $1 AND task_id = $2 RETURNING attempt, spec`,
			workflowID, a.Task, a.VM, now).Scan(&attempt, &spec); err != nil {
			return fmt.Errorf("mark dispatched %s: %w", a.Task, err)
		}
		// Busy again (when it next idles it is announced afresh), with less room.
		if _, err := tx.Exec(ctx, `UPDATE allocation_vms v SET idle_key = NULL, used_cores = v.used_cores + r.cpu,
			used_memory_bytes = v.used_memory_bytes + r.memory_bytes FROM task_runs r
			WHERE v.vm_id = $3 AND r.workflow_id = $1 AND r.task_id = $2`, workflowID, a.Task, a.VM); err != nil {
			return err
		}
		var task events.Task
		if err := json.Unmarshal(spec, &task); err != nil {
			return bus.Permanent(fmt.Errorf("task spec %s: %w", a.Task, err))
		}
		ev := events.TaskDispatched{WorkflowID: workflowID, TaskID: a.Task, Attempt: attempt, VMID: a.VM, PlanVersion: planVersion, Task: task}
		id := events.DerivedID(workflowID, "dispatch", a.Task, fmt.Sprint(attempt))
		if err := outbox.Emit(ctx, tx, id, Source, workflowID, now, ev); err != nil {
			return err
		}
	}
	return s.markProgress(ctx, tx, workflowID, d.Start)
}

// markProgress records that the workflow is running, or done once no task is pending or
// running.
func (s *Service) markProgress(ctx context.Context, tx pgx.Tx, workflowID string, started []dispatch.Assignment) error {
	now := s.rt.Clock.Now()
	state := "running"
	if len(started) == 0 {
		var open bool
		// Two probes of the partial indexes task_runs_pending and task_runs_dispatched; one
		// IN list scanned the workflow's finished runs first.
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM task_runs WHERE workflow_id = $1 AND state = 'pending')
			OR EXISTS (SELECT 1 FROM task_runs WHERE workflow_id = $1 AND state = 'dispatched')`,
			workflowID).Scan(&open); err != nil {
			return err
		}
		if !open {
			state = "done"
		}
	}
	_, err := tx.Exec(ctx, `UPDATE allocations SET state = $2, updated_at = $3, started_at = coalesce(started_at, $3) WHERE workflow_id = $1`,
		workflowID, state, now)
	return err
}

// Build is the service's factory for service.Main and the all-in-one binary: with the
// local provider a workflow is planned onto a slice of this host; with a cloud provider
// (sim) over the instance catalog.
func Build(ctx context.Context, rt *service.Runtime) (service.Component, error) {
	if rt.Config.Provider == "sim" {
		return New(rt, CatalogPlanner(catalog.Default())), nil
	}
	return New(rt, HostPlanner(service.Host(rt.Config))), nil
}
