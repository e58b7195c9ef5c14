package allocator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/services/allocator/planner"
)

func (s *Service) onReplanRequested(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	r, err := bus.Decode[events.ReplanRequested](env)
	if err != nil {
		return err
	}
	if err := lockAllocation(ctx, tx, r.WorkflowID); err != nil {
		return err
	}
	return s.replan(ctx, tx, r.WorkflowID, r.Reason, env.ID)
}

// replan makes the next version of a workflow's plan for its unfinished part: finished and
// running tasks stay where they are, the VMs the workflow holds are offered back, and only
// VMs the new plan adds are requested. Every version is kept in plans. The caller holds the
// allocation lock.
func (s *Service) replan(ctx context.Context, tx pgx.Tx, workflowID, reason, causeID string) error {
	var (
		state     string
		version   int
		graphJSON []byte
		plannedAt *time.Time
	)
	if err := tx.QueryRow(ctx, `SELECT state, plan_version, graph, planned_at FROM allocations WHERE workflow_id = $1`, workflowID).
		Scan(&state, &version, &graphJSON, &plannedAt); err != nil {
		return fmt.Errorf("load allocation: %w", err)
	}
	if state == "done" {
		return nil
	}
	var dp events.DemandPredicted
	if err := json.Unmarshal(graphJSON, &dp); err != nil {
		return bus.Permanent(fmt.Errorf("allocation graph: %w", err))
	}
	now := s.rt.Clock.Now()
	// Plan times count from when the first plan was made.
	since := func(t time.Time) float64 {
		if plannedAt == nil {
			return 0
		}
		return t.Sub(*plannedAt).Seconds()
	}
	req := PlanRequest{Demand: dp, Version: version + 1, Now: since(now)}
	pred := make(map[string]events.TaskPrediction, len(dp.Predictions))
	for _, p := range dp.Predictions {
		pred[p.TaskID] = p
	}
	rows, err := tx.Query(ctx,
		`SELECT task_id, state, vm_id, dispatched_at, finished_at FROM task_runs
		 WHERE workflow_id = $1 AND state IN ('succeeded', 'dispatched') AND vm_id IS NOT NULL`, workflowID)
	if err != nil {
		return fmt.Errorf("load task runs: %w", err)
	}
	for rows.Next() {
		var d DoneTask
		var st string
		var dispatched, finished *time.Time
		if err := rows.Scan(&d.TaskID, &st, &d.VMID, &dispatched, &finished); err != nil {
			rows.Close()
			return err
		}
		if dispatched != nil {
			d.Start = since(*dispatched)
		}
		switch {
		case finished != nil && st == "succeeded":
			d.Finish = since(*finished)
		default: // running: its predicted end, never in the past
			p := pred[d.TaskID]
			d.Finish = max(req.Now, d.Start+planner.PlannedDuration(p, dp.Action.RuntimeQuantile))
		}
		req.Done = append(req.Done, d)
	}
	rows.Close()
	vmRows, err := tx.Query(ctx,
		`SELECT vm_id, vm_key, instance_type, cores, memory_bytes FROM allocation_vms WHERE workflow_id = $1 AND NOT released`, workflowID)
	if err != nil {
		return fmt.Errorf("load vms: %w", err)
	}
	req.Held, err = pgx.CollectRows(vmRows, func(r pgx.CollectableRow) (HeldVM, error) {
		var h HeldVM
		return h, r.Scan(&h.VMID, &h.Key, &h.InstanceType, &h.Cores, &h.MemoryBytes)
	})
	if err != nil {
		return err
	}
	if req.Pool, err = standingPool(ctx, tx); err != nil {
		return err
	}
	if req.Avoid, err = openBreakers(ctx, tx); err != nil {
		return err
	}
	plan, err := s.planner(req)
	if errors.Is(err, context.Canceled) {
		return err
	}
	if err != nil {
		// The running plan stays in force; re-planning is an improvement, not a must.
		s.log.Warn("re-plan failed; keeping the current plan", "workflow_id", workflowID, "err", err)
		return nil
	}
	plan.WorkflowID, plan.Version = workflowID, version+1
	if plannedAt != nil {
		plan.PlannedAt = plannedAt.UTC()
	}
	plan.Reason = "re-plan: " + reason + "; " + plan.Reason
	raw, _ := json.Marshal(plan)
	if _, err := tx.Exec(ctx, `INSERT INTO plans (workflow_id, version, plan, reason) VALUES ($1, $2, $3, $4)`,
		workflowID, plan.Version, raw, reason); err != nil {
		return fmt.Errorf("store plan v%d: %w", plan.Version, err)
	}
	if err := recordRequests(ctx, tx, plan); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE allocations SET plan_version = $2, updated_at = $3 WHERE workflow_id = $1`,
		workflowID, plan.Version, now); err != nil {
		return err
	}
	ids, vms := make([]string, 0, len(plan.Placements)), make([]string, 0, len(plan.Placements))
	starts := make([]float64, 0, len(plan.Placements))
	for _, p := range plan.Placements {
		ids, vms, starts = append(ids, p.TaskID), append(vms, p.VMKey), append(starts, p.StartSeconds)
	}
	if _, err := tx.Exec(ctx,
		`UPDATE task_runs r SET planned_vm = p.vm, planned_start = p.start
		 FROM unnest($2::text[], $3::text[], $4::float8[]) AS p(task, vm, start)
		 WHERE r.workflow_id = $1 AND r.task_id = p.task AND r.state = 'pending'`, workflowID, ids, vms, starts); err != nil {
		return fmt.Errorf("apply plan v%d: %w", plan.Version, err)
	}
	s.log.Info("re-planned", "workflow_id", workflowID, "version", plan.Version, "reason", reason, "new_vms", len(plan.VMRequests))
	if err := outbox.Emit(ctx, tx, events.DerivedID(causeID, "plan", strconv.Itoa(plan.Version)), Source, workflowID, now, plan); err != nil {
		return err
	}
	return s.dispatch(ctx, tx, workflowID)
}
