package poolmanager

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/services/poolmanager/pool"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
)

// The standing pool is every VM not bound to a workflow (workflow_id IS NULL). Its size per
// instance type follows targets set from the predictor's pool forecast: hot VMs for demand
// that arrives sooner than a warm start, warm ones for demand a launch would be too slow
// for (pool.Targets). Plans claim pool VMs; finished workflows return theirs while the
// pool is below target.

// onPoolForecast turns the forecast into targets for the pool's instance type and
// reconciles the pool to them.
func (s *Service) onPoolForecast(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	f, err := bus.Decode[events.PoolForecast](env)
	if err != nil {
		return err
	}
	if s.opts.PoolType == "" {
		return nil // a provider without a priced catalog keeps no standing pool
	}
	targets := pool.Targets(map[string][]events.DemandPoint{s.opts.PoolType: f.Points}, s.opts.Catalog, pool.TargetOptions{UseP90: true})
	for _, t := range targets {
		if _, err := tx.Exec(ctx,
			`INSERT INTO pool_targets (instance_type, hot, warm, reason, updated_at) VALUES ($1, $2, $3, $4, $5)
			 ON CONFLICT (instance_type) DO UPDATE SET hot = EXCLUDED.hot, warm = EXCLUDED.warm, reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at`,
			t.InstanceType, t.Hot, t.Warm, fmt.Sprintf("%s (model %s)", t.Reason, f.Model), s.rt.Clock.Now()); err != nil {
			return fmt.Errorf("store target: %w", err)
		}
	}
	return s.reconcile(ctx, tx, env.ID)
}

// poolCounts is the standing pool of one type: VMs running or on their way (hot) and
// stopped (warm), with the target.
type poolCounts struct {
	hot, warm             int
	targetHot, targetWarm int
}

func (s *Service) counts(ctx context.Context, tx pgx.Tx, instanceType string) (poolCounts, error) {
	var c poolCounts
	err := tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state IN ('requested', 'provisioning', 'hot_idle', 'idle')),
		       count(*) FILTER (WHERE state = 'warm'),
		       coalesce((SELECT hot FROM pool_targets WHERE instance_type = $1), 0),
		       coalesce((SELECT warm FROM pool_targets WHERE instance_type = $1), 0)
		FROM vms WHERE workflow_id IS NULL AND instance_type = $1`, instanceType).Scan(&c.hot, &c.warm, &c.targetHot, &c.targetWarm)
	return c, err
}

// reconcile launches pool VMs up to the hot target and sheds surplus: surplus hot VMs go
// warm while the warm pool is short, anything else surplus is terminated.
func (s *Service) reconcile(ctx context.Context, tx pgx.Tx, causeID string) error {
	if s.opts.PoolType == "" {
		return nil
	}
	typ := s.opts.PoolType
	c, err := s.counts(ctx, tx, typ)
	if err != nil {
		return fmt.Errorf("pool counts: %w", err)
	}
	it, ok := s.opts.Catalog.Type(typ)
	if !ok {
		return fmt.Errorf("pool type %s is not in the catalog", typ)
	}
	now := s.rt.Clock.Now()
	for i := c.hot; i < c.targetHot; i++ {
		key := events.DerivedID(causeID, "pool", typ, strconv.Itoa(i))
		if _, err := tx.Exec(ctx,
			`INSERT INTO vms (key, provider, instance_type, tier, cores, memory_bytes, state, requested_at, launch_at, reason)
			 VALUES ($1, $2, $3, 'cold', $4, $5, 'requested', $6, $6, 'standing hot pool') ON CONFLICT (key) DO NOTHING`,
			key, s.opts.Provider.Name(), typ, it.Cores, it.MemoryBytes, now); err != nil {
			return fmt.Errorf("grow pool: %w", err)
		}
	}
	if c.hot > c.targetHot {
		rows, err := tx.Query(ctx, `SELECT key, vm_id, state FROM vms WHERE workflow_id IS NULL AND instance_type = $1 AND state IN ('hot_idle', 'idle')
			ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED`, typ, c.hot-c.targetHot)
		if err != nil {
			return err
		}
		type vm struct{ key, id, state string }
		var surplus []vm
		for rows.Next() {
			var v vm
			if err := rows.Scan(&v.key, &v.id, &v.state); err != nil {
				rows.Close()
				return err
			}
			surplus = append(surplus, v)
		}
		rows.Close()
		warm := c.warm
		for _, v := range surplus {
			if warm < c.targetWarm {
				if err := s.stopToWarm(ctx, tx, v.key, v.id, pool.State(v.state), farFuture); err != nil {
					return err
				}
				warm++
				continue
			}
			if err := s.terminate(ctx, tx, v.key, v.id, pool.State(v.state)); err != nil {
				return err
			}
		}
	}
	if c.warm > c.targetWarm {
		rows, err := tx.Query(ctx, `SELECT key, vm_id FROM vms WHERE workflow_id IS NULL AND instance_type = $1 AND state = 'warm'
			ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED`, typ, c.warm-c.targetWarm)
		if err != nil {
			return err
		}
		var keys, ids []string
		for rows.Next() {
			var k, id string
			if err := rows.Scan(&k, &id); err != nil {
				rows.Close()
				return err
			}
			keys, ids = append(keys, k), append(ids, id)
		}
		rows.Close()
		for i := range keys {
			if err := s.terminate(ctx, tx, keys[i], ids[i], pool.StateWarm); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) stopToWarm(ctx context.Context, tx pgx.Tx, key, vmID string, from pool.State, restartAt time.Time) error {
	if _, err := s.opts.Provider.Stop(ctx, vmID); err != nil {
		return fmt.Errorf("stop %s: %w", vmID, err)
	}
	if err := s.transition(ctx, tx, key, from, pool.EventStop); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE vms SET launch_at = $2 WHERE key = $1`, key, restartAt)
	return err
}

func (s *Service) terminate(ctx context.Context, tx pgx.Tx, key, vmID string, from pool.State) error {
	if vmID != "" {
		if err := s.opts.Provider.Terminate(ctx, vmID); err != nil && !errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("terminate %s: %w", vmID, err)
		}
	}
	if err := s.transition(ctx, tx, key, from, pool.EventTerminate); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE vms SET released_at = $2 WHERE key = $1`, key, s.rt.Clock.Now())
	return err
}

// releaseToPool handles one VM of a finished workflow: back to the standing pool, hot or
// warm, while that is below target; terminated otherwise. It returns the VM's new state.
func (s *Service) releaseToPool(ctx context.Context, tx pgx.Tx, key, vmID, instanceType string, from pool.State) (pool.State, error) {
	if from == pool.StateBusy {
		if err := s.transition(ctx, tx, key, from, pool.EventDrain); err != nil {
			return "", err
		}
		from = pool.StateIdle
	}
	pooled := from == pool.StateHotIdle || from == pool.StateIdle || from == pool.StateWarm
	if pooled && s.opts.PoolType != "" && instanceType == s.opts.PoolType && vmID != "" {
		c, err := s.counts(ctx, tx, instanceType)
		if err != nil {
			return "", err
		}
		unbind := func() error {
			_, err := tx.Exec(ctx, `UPDATE vms SET workflow_id = NULL, plan_key = NULL, reason = 'returned to the standing pool', updated_at = $2 WHERE key = $1`, key, s.rt.Clock.Now())
			return err
		}
		switch {
		case from != pool.StateWarm && c.hot < c.targetHot:
			return from, unbind()
		case c.warm < c.targetWarm:
			if from != pool.StateWarm {
				if err := s.stopToWarm(ctx, tx, key, vmID, from, farFuture); err != nil {
					return "", err
				}
			}
			return pool.StateWarm, unbind()
		}
	}
	return pool.StateTerminated, s.terminate(ctx, tx, key, vmID, from)
}

// claim binds a standing pool VM to a workflow under the plan's key. A hot VM is
// announced at once; a warm one is started at the plan's request time. It reports false
// when the VM is no longer in the pool (another plan took it, or it was shed).
func (s *Service) claim(ctx context.Context, tx pgx.Tx, r events.VMRequest, workflowID string, launchAt time.Time) (bool, error) {
	now := s.rt.Clock.Now()
	var state string
	var vm vmRow
	var readyAt *time.Time
	err := tx.QueryRow(ctx,
		`UPDATE vms SET key = $2, provider_key = coalesce(provider_key, key), plan_key = NULL, workflow_id = $3, tier = $4, requested_at = $5,
		        launch_at = $6, reason = $7, updated_at = $5
		 WHERE vm_id = $1 AND workflow_id IS NULL AND state IN ('hot_idle', 'idle', 'warm')
		 RETURNING state, instance_type, cores, memory_bytes, ready_at, starts`,
		r.PoolVMID, r.Key, workflowID, r.Tier, now, launchAt, "claimed from the standing pool: "+r.Reason).
		Scan(&state, &vm.instanceType, &vm.cores, &vm.mem, &readyAt, &vm.starts)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", r.PoolVMID, err)
	}
	if state == string(pool.StateWarm) {
		return true, nil // startDue starts it at launchAt
	}
	ev := events.VMProvisioned{VMID: r.PoolVMID, WorkflowID: workflowID, Key: r.Key, Provider: s.opts.Provider.Name(),
		InstanceType: vm.instanceType, Tier: events.TierHot, Cores: vm.cores, MemoryBytes: vm.mem, ReadyAt: now}
	return true, outbox.Emit(ctx, tx, events.DerivedID(r.Key, "claimed"), Source, workflowID, now, ev)
}
