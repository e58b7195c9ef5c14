package poolmanager

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/services/poolmanager/pool"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
)

// onVMIdle applies look-ahead scale-in to a VM with nothing running: keep it hot, stop it
// to warm standby, or terminate it, by comparing what each costs until the plan next needs
// it with the latency of getting it back (pool.ScaleIn). A stopped VM is started again,
// and a terminated one relaunched, one P90 latency ahead of that need.
func (s *Service) onVMIdle(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	idle, err := bus.Decode[events.VMIdle](env)
	if err != nil {
		return err
	}
	var (
		key, vmID, instanceType, workflowID, state string
		readyAt                                    *time.Time
		starts                                     int
	)
	err = tx.QueryRow(ctx,
		`SELECT key, vm_id, instance_type, workflow_id::text, state, ready_at, starts FROM vms WHERE vm_id = $1 FOR UPDATE`,
		idle.VMID).Scan(&key, &vmID, &instanceType, &workflowID, &state, &readyAt, &starts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load vm %s: %w", idle.VMID, err)
	}
	it, priced := s.opts.Catalog.Type(instanceType)
	if !priced || (state != string(pool.StateHotIdle) && state != string(pool.StateBusy) && state != string(pool.StateIdle)) {
		return nil // a local host slice costs nothing to keep; a VM already going away stays so
	}
	now := s.rt.Clock.Now()
	need := math.Inf(1)
	if idle.NextNeedSeconds != nil {
		need = *idle.NextNeedSeconds
	}
	since := 0.0
	if readyAt != nil {
		since = now.Sub(*readyAt).Seconds()
	}
	d := pool.ScaleIn(pool.IdleVM{ID: vmID, InstanceType: instanceType, SinceStartSeconds: since}, need, it, s.opts.Catalog.MinimumBillSeconds)
	log := s.log.With("workflow_id", workflowID, "vm_id", vmID)
	log.Info("scale-in", "action", d.Action, "next_need_s", need, "reason", d.Reason)
	from := pool.State(state)
	if from == pool.StateBusy {
		if err := s.transition(ctx, tx, key, from, pool.EventDrain); err != nil {
			return err
		}
		from = pool.StateIdle
	}
	switch d.Action {
	case pool.ActionStop:
		if _, err := s.opts.Provider.Stop(ctx, vmID); err != nil {
			return fmt.Errorf("stop %s: %w", vmID, err)
		}
		if err := s.transition(ctx, tx, key, from, pool.EventStop); err != nil {
			return err
		}
		restart := farFuture
		if !math.IsInf(need, 1) {
			restart = now.Add(seconds(need - it.Warm.P90Seconds))
		}
		if _, err := tx.Exec(ctx, `UPDATE vms SET launch_at = $2 WHERE key = $1`, key, restart); err != nil {
			return err
		}
		rel := events.VMReleased{VMID: vmID, WorkflowID: workflowID, State: string(pool.StateWarm), Reason: d.Reason}
		return outbox.Emit(ctx, tx, events.DerivedID(key, "stopped", strconv.Itoa(starts)), Source, workflowID, now, rel)
	case pool.ActionTerminate:
		if err := s.opts.Provider.Terminate(ctx, vmID); err != nil && !errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("terminate %s: %w", vmID, err)
		}
		if err := s.transition(ctx, tx, key, from, pool.EventTerminate); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE vms SET released_at = $2 WHERE key = $1`, key, now); err != nil {
			return err
		}
		if !math.IsInf(need, 1) {
			// The plan still needs this capacity: a fresh launch, keyed from this one, timed
			// to be ready by then.
			relaunch := events.DerivedID(key, "relaunch", strconv.Itoa(starts))
			if _, err := tx.Exec(ctx,
				`INSERT INTO vms (key, plan_key, workflow_id, provider, instance_type, tier, cores, memory_bytes, state, requested_at, launch_at, reason)
				 SELECT $2, coalesce(plan_key, key), workflow_id, provider, instance_type, 'cold', cores, memory_bytes, 'requested', $3, $4, $5 FROM vms WHERE key = $1
				 ON CONFLICT (key) DO NOTHING`,
				key, relaunch, now, now.Add(seconds(need-it.Cold.P90Seconds)), "relaunch ahead of the next need: "+d.Reason); err != nil {
				return fmt.Errorf("schedule relaunch: %w", err)
			}
		}
		rel := events.VMReleased{VMID: vmID, WorkflowID: workflowID, State: string(pool.StateTerminated), Reason: d.Reason}
		return outbox.Emit(ctx, tx, events.DerivedID(key, "scaled-in", strconv.Itoa(starts)), Source, workflowID, now, rel)
	default: // keep hot: it stays running (hot_idle or idle) for the next need
		return nil
	}
}

// onVMUnneeded cancels a VM request whose planned tasks all ran elsewhere: one not yet
// launched is dropped, one booting is terminated, before either costs a minimum charge.
// A VM already up is left to scale-in, which sees it idle.
func (s *Service) onVMUnneeded(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	u, err := bus.Decode[events.VMUnneeded](env)
	if err != nil {
		return err
	}
	var vmID, state string
	err = tx.QueryRow(ctx, `SELECT coalesce(vm_id, ''), state FROM vms WHERE key = $1 FOR UPDATE`, u.Key).Scan(&vmID, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load vm %s: %w", u.Key, err)
	}
	switch pool.State(state) {
	case pool.StateRequested:
		s.log.Info("vm request cancelled", "workflow_id", u.WorkflowID, "vm_key", u.Key, "reason", u.Reason)
		return s.transition(ctx, tx, u.Key, pool.StateRequested, pool.EventTerminate)
	case pool.StateProvisioning:
		s.log.Info("booting vm terminated", "workflow_id", u.WorkflowID, "vm_id", vmID, "reason", u.Reason)
		return s.terminate(ctx, tx, u.Key, vmID, pool.StateProvisioning)
	}
	return nil
}

// startDue starts one warm VM whose planned restart time has come.
func (s *Service) startDue(ctx context.Context) (int, error) {
	tx, err := s.rt.Pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var r vmRow
	var vmID string
	var starts int
	err = tx.QueryRow(ctx,
		`SELECT key, coalesce(workflow_id::text, ''), instance_type, tier, cores, memory_bytes, vm_id, starts FROM vms
		 WHERE state = 'warm' AND launch_at <= $1 ORDER BY launch_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
		s.rt.Clock.Now()).Scan(&r.key, &r.workflowID, &r.instanceType, &r.tier, &r.cores, &r.mem, &vmID, &starts)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("select warm vm: %w", err)
	}
	now := s.rt.Clock.Now()
	vm, err := s.opts.Provider.Start(ctx, vmID)
	if err != nil {
		// Retry later; a start that keeps failing is the breaker's business.
		_, uerr := tx.Exec(ctx, `UPDATE vms SET launch_at = $2 WHERE key = $1`, r.key, now.Add(2*time.Second))
		return 1, errors.Join(fmt.Errorf("start %s: %w", vmID, err), uerr, tx.Commit(ctx))
	}
	if err := s.transition(ctx, tx, r.key, pool.StateWarm, pool.EventStart); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE vms SET starts = starts + 1, tier = 'warm', requested_at = $2, ready_at = $3 WHERE key = $1`,
		r.key, now, vm.ReadyAt); err != nil {
		return 0, err
	}
	s.log.Info("warm vm starting", "workflow_id", r.workflowID, "vm_id", vmID, "ready_at", vm.ReadyAt)
	return 1, tx.Commit(ctx)
}

// farFuture parks a stopped VM that nothing is predicted to need; the workflow's
// completion terminates it.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func seconds(s float64) time.Duration { return time.Duration(max(s, 0) * float64(time.Second)) }
