package allocator

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/pkg/testenv"
)

// TestAnnounceIdle: a VM with nothing running is announced with the time until the plan
// next needs it (counted from when the plan was made), once; again only when that answer
// changes; never while it runs a task.
func TestAnnounceIdle(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Database(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(t0)
	s := New(&service.Runtime{Pool: pool, Clock: clk, Log: slog.New(slog.DiscardHandler)}, nil)
	wf := "00000000-0000-0000-0000-0000000000f1"
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(`INSERT INTO allocations (workflow_id, state, graph, planned_at) VALUES ($1, 'running', '{}', $2)`, wf, t0)
	exec(`INSERT INTO allocation_vms (vm_id, workflow_id, vm_key, cores, memory_bytes, ready_at) VALUES ('vm1', $1, 'k1', 2, 1, $2)`, wf, t0)
	exec(`INSERT INTO task_runs (workflow_id, task_id, state, cpu, memory_bytes, parents, planned_vm, planned_start, spec)
	      VALUES ($1, 'later', 'pending', 1, 1, '{}', 'k1', 300, '{}')`, wf)
	announce := func() []events.VMIdle {
		t.Helper()
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return s.announceIdle(ctx, tx, wf, clk.Now().String())
		}))
		return testenv.Outboxed[events.VMIdle](t, pool)
	}

	clk.Advance(100 * time.Second)
	got := announce()
	require.Len(t, got, 1)
	require.NotNil(t, got[0].NextNeedSeconds)
	require.InDelta(t, 200, *got[0].NextNeedSeconds, 0.001, "planned at 300 s after the plan, now 100 s after it")

	clk.Advance(50 * time.Second)
	require.Len(t, announce(), 1, "the same next need is not announced again")

	exec(`UPDATE task_runs SET planned_vm = 'elsewhere' WHERE task_id = 'later'`)
	got = announce()
	require.Len(t, got, 2, "the planned task went elsewhere: announced again")
	require.Nil(t, got[1].NextNeedSeconds, "nothing planned on it any more")

	exec(`UPDATE task_runs SET state = 'dispatched', vm_id = 'vm1' WHERE task_id = 'later'`)
	exec(`UPDATE allocation_vms SET idle_key = NULL, used_cores = 1, used_memory_bytes = 1`) // as dispatch records it
	require.Len(t, announce(), 2, "a VM running a task is not idle")
}
