package poolmanager

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/pkg/testenv"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/breaker"
	"github.com/foresight-run/foresight/services/poolmanager/provider/sim"
)

type bundle struct {
	pool  *pgxpool.Pool
	clock *clock.Virtual
	rt    *service.Runtime
}

func setup(t *testing.T) bundle {
	t.Helper()
	_, pool := testenv.Database(t)
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt := &service.Runtime{Pool: pool, Clock: clk, Log: slog.New(slog.DiscardHandler)}
	return bundle{pool: pool, clock: clk, rt: rt}
}

// request stores a VM request as plan-ready would, due now.
func (b bundle) request(t *testing.T, key, instanceType string) {
	t.Helper()
	it, ok := catalog.Default().Type(instanceType)
	require.True(t, ok)
	_, err := b.pool.Exec(context.Background(),
		`INSERT INTO vms (key, workflow_id, provider, instance_type, tier, cores, memory_bytes, state, requested_at, launch_at)
		 VALUES ($1, gen_random_uuid(), 'sim', $2, 'cold', $3, $4, 'requested', $5, $5)`,
		key, instanceType, it.Cores, it.MemoryBytes, b.clock.Now())
	require.NoError(t, err)
}

func (b bundle) row(t *testing.T, key string) (state, vmID, instanceType, reason string) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT state, coalesce(vm_id, ''), instance_type, reason FROM vms WHERE key = $1`, key).Scan(&state, &vmID, &instanceType, &reason))
	return
}

// drive runs the launcher, advancing virtual time, until the VM is hot or the budget ends.
func (b bundle) drive(t *testing.T, s *Service, key string) {
	t.Helper()
	for range 400 {
		_, _ = s.launchDue(context.Background())
		if st, _, _, _ := b.row(t, key); st == "hot_idle" {
			return
		}
		b.clock.Advance(time.Second)
	}
	st, _, _, _ := b.row(t, key)
	t.Fatalf("vm %s never became hot (state %s)", key, st)
}

// A crash between the provider call and the Postgres commit, then a restart, yields
// exactly one VM for the key: the key was committed before the call and the retry reuses
// it, so the idempotent provider returns the VM it already made.
func TestCrashAfterLaunchYieldsOneVM(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ledger := sim.NewLedger() // the cloud outlives our process
	cloud := func() *sim.Sim {
		s, err := sim.New(sim.Options{Catalog: catalog.Default(), Clock: b.clock, Seed: 7, Ledger: ledger})
		require.NoError(t, err)
		return s
	}
	b.request(t, "key-crash", "m7i.large")

	first := New(b.rt, Options{Provider: cloud()})
	first.crashAfterLaunch = func() error { return errors.New("killed") }
	_, err := first.launchDue(context.Background())
	require.Error(t, err)
	st, vmID, _, _ := b.row(t, "key-crash")
	require.Equal(t, "requested", st, "nothing was committed")
	require.Empty(t, vmID)
	require.Len(t, ledger.Keys(), 1, "the provider did make a VM before the crash")

	restarted := cloud()
	second := New(b.rt, Options{Provider: restarted})
	b.drive(t, second, "key-crash")
	_, vmID, _, _ = b.row(t, "key-crash")
	require.Len(t, restarted.VMs(), 1, "exactly one VM for the key")
	require.Equal(t, restarted.VMs()[0].ID, vmID)

	var announced int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE type = 'foresight.vm-provisioned.v1'`).Scan(&announced))
	require.Equal(t, 1, announced)
}

// An outage of one instance type opens its circuit breaker and the request falls back to
// another type, which vm-provisioned reports.
func TestOutageOpensBreakerAndFallsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cat := catalog.Default()
	cloud, err := sim.New(sim.Options{Catalog: cat, Clock: b.clock, Seed: 7,
		Faults: sim.Faults{ErrorRate: 1, Types: []string{"m7i.large"}}})
	require.NoError(t, err)
	brk := breaker.New(cloud, breaker.Settings{ConsecutiveFailures: 2, OnStateChange: recordBreaker(b.rt)})
	s := New(b.rt, Options{Provider: brk, Breakers: brk, Catalog: cat})
	b.request(t, "key-outage", "m7i.large")

	b.drive(t, s, "key-outage")
	require.True(t, brk.Open("cold", "m7i.large"), "the failing type's breaker is open")
	_, _, instanceType, reason := b.row(t, "key-outage")
	require.NotEqual(t, "m7i.large", instanceType, "the VM came from another type")
	require.Contains(t, reason, "fallback")

	var fallback string
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT convert_from(payload, 'UTF8')::jsonb->'data'->>'fallback' FROM outbox WHERE type = 'foresight.vm-provisioned.v1'`).Scan(&fallback))
	require.NotEmpty(t, fallback, "vm-provisioned says the plan was not followed and why")

	var state string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT state FROM provider_breakers WHERE scope = 'cold/m7i.large'`).Scan(&state))
	require.Equal(t, "open", state, "the open breaker is recorded for the allocator's next plans")
}

// A VM launched ahead of need through the simulated cloud is provisioning until its boot
// latency has passed, and ready after.
func TestProvisioningWaitsForBoot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cloud, err := sim.New(sim.Options{Catalog: catalog.Default(), Clock: b.clock, Seed: 3})
	require.NoError(t, err)
	s := New(b.rt, Options{Provider: cloud})
	b.request(t, "key-boot", "c7i.large")
	_, err = s.launchDue(context.Background())
	require.NoError(t, err)
	st, _, _, _ := b.row(t, "key-boot")
	require.Equal(t, "provisioning", st)
	b.drive(t, s, "key-boot")
	var readyAt, requestedAt time.Time
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT ready_at, requested_at FROM vms WHERE key = 'key-boot'`).Scan(&readyAt, &requestedAt))
	require.Greater(t, readyAt.Sub(requestedAt), 5*time.Second, "a cold launch takes the catalog's latency")
}

// TestScaleInLooksAhead drives one VM through idle periods of different lengths: a short
// gap keeps it hot, a gap longer than a warm start but shorter than a launch stops it to
// warm and starts it again ahead of the need, and no further need terminates it.
func TestScaleInLooksAhead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cat := catalog.Default()
	cloud, err := sim.New(sim.Options{Catalog: cat, Clock: b.clock, Seed: 5})
	require.NoError(t, err)
	s := New(b.rt, Options{Provider: cloud, Catalog: cat})
	b.request(t, "key-scale", "c7i.large")
	b.drive(t, s, "key-scale")
	_, vmID, _, _ := b.row(t, "key-scale")
	it, _ := cat.Type("c7i.large")

	idle := func(need *float64) {
		t.Helper()
		env, err := events.New("test", "wf", b.clock.Now(), events.VMIdle{VMID: vmID, WorkflowID: "wf", Key: "key-scale", NextNeedSeconds: need})
		require.NoError(t, err)
		require.NoError(t, pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
			return s.onVMIdle(context.Background(), tx, env)
		}))
	}
	state := func() string { st, _, _, _ := b.row(t, "key-scale"); return st }
	f := func(v float64) *float64 { return &v }

	idle(f(it.Warm.P90Seconds / 2))
	require.Equal(t, "hot_idle", state(), "needed again sooner than a warm start: stay hot")

	// Once its prepaid minimum charge has run out, a gap a launch cannot cover but a warm
	// start can is cheaper in standby.
	b.clock.Advance(2 * time.Minute)
	idle(f(it.Cold.P90Seconds - 5))
	require.Equal(t, "warm", state(), "too soon for a launch, late enough for a start: stop to warm")
	vm, err := cloud.Describe(context.Background(), vmID)
	require.NoError(t, err)
	require.Equal(t, provider.StateStopped, vm.State)

	b.drive(t, s, "key-scale") // restarted ahead of the need
	var provisioned int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE type = 'foresight.vm-provisioned.v1'`).Scan(&provisioned))
	require.Equal(t, 2, provisioned, "each start is announced")

	idle(nil)
	require.Equal(t, "terminated", state(), "no further need: terminate")

	// Every transition was announced once, in order.
	rows, err := b.pool.Query(context.Background(),
		`SELECT d->>'from' || '>' || (d->>'to') FROM (SELECT convert_from(payload, 'UTF8')::jsonb->'data' AS d, seq FROM outbox
		 WHERE type = 'foresight.vm-state-changed.v1') x WHERE d->>'key' = 'key-scale' ORDER BY (d->>'seq')::int`)
	require.NoError(t, err)
	history, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"requested>provisioning", "provisioning>hot_idle", "hot_idle>warm", "warm>provisioning",
		"provisioning>hot_idle", "hot_idle>terminated"}, history)
}

// handle runs a transactional handler on payload as the bus would.
func (b bundle) handle(t *testing.T, fn func(context.Context, pgx.Tx, events.Envelope) error, workflowID string, payload events.Payload) {
	t.Helper()
	env, err := events.New("test", workflowID, b.clock.Now(), payload)
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error { return fn(context.Background(), tx, env) }))
}

func (b bundle) poolStates(t *testing.T) map[string]int {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT state, count(*) FROM vms WHERE workflow_id IS NULL GROUP BY state`)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		require.NoError(t, rows.Scan(&s, &n))
		out[s] = n
	}
	return out
}

// TestStandingPoolFollowsTheForecast: a forecast of near-term demand sets a hot target, the
// pool grows to it, a plan claims a pool VM (announced at once, hot), the finished
// workflow returns it to the pool, and a forecast of no demand sheds the pool.
func TestStandingPoolFollowsTheForecast(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cat := catalog.Default()
	cloud, err := sim.New(sim.Options{Catalog: cat, Clock: b.clock, Seed: 9})
	require.NoError(t, err)
	it, _ := cat.CheapestFit(2, 4<<30)
	s := New(b.rt, Options{Provider: cloud, Catalog: cat, PoolType: it.Name})

	busy := func(cores float64) events.PoolForecast {
		f := events.PoolForecast{GeneratedAt: b.clock.Now(), StepSeconds: 60, Model: "test"}
		for i := range 5 {
			f.Points = append(f.Points, events.DemandPoint{OffsetSeconds: float64(i * 60), Cores: cores, CoresP90: cores})
		}
		return f
	}
	b.handle(t, s.onPoolForecast, "", busy(3*it.Cores))
	var hot int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT hot FROM pool_targets WHERE instance_type = $1`, it.Name).Scan(&hot))
	require.Positive(t, hot)
	for range 300 {
		_, _ = s.launchDue(context.Background())
		if b.poolStates(t)["hot_idle"] == hot {
			break
		}
		b.clock.Advance(time.Second)
	}
	require.Equal(t, hot, b.poolStates(t)["hot_idle"], "the pool grew to its hot target")

	// A plan claims one pool VM.
	var poolVM string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT vm_id FROM vms WHERE workflow_id IS NULL AND state = 'hot_idle' LIMIT 1`).Scan(&poolVM))
	wf := "00000000-0000-0000-0000-0000000000aa"
	b.handle(t, s.onPlanReady, wf, events.PlanReady{WorkflowID: wf, Version: 1, VMRequests: []events.VMRequest{{
		Key: "plan-key-1", InstanceType: it.Name, Tier: events.TierHot, Cores: it.Cores, MemoryBytes: it.MemoryBytes, PoolVMID: poolVM}}})
	var claimedBy string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT coalesce(workflow_id::text, '') FROM vms WHERE vm_id = $1`, poolVM).Scan(&claimedBy))
	require.Equal(t, wf, claimedBy)
	var announced string
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT convert_from(payload, 'UTF8')::jsonb->'data'->>'vm_id' FROM outbox WHERE type = 'foresight.vm-provisioned.v1' AND subject LIKE '%' || $1`, wf).Scan(&announced))
	require.Equal(t, poolVM, announced, "a claimed hot VM is provisioned at once")

	// The workflow finishes: its VM goes back to the pool, which is below target again.
	b.handle(t, s.onWorkflowCompleted, wf, events.WorkflowCompleted{WorkflowID: wf, Status: events.WorkflowSucceeded})
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT coalesce(workflow_id::text, '') FROM vms WHERE vm_id = $1`, poolVM).Scan(&claimedBy))
	require.Empty(t, claimedBy, "returned to the standing pool")
	require.Equal(t, hot, b.poolStates(t)["hot_idle"])

	// No demand forecast: the pool is shed.
	b.handle(t, s.onPoolForecast, "", busy(0))
	require.Zero(t, b.poolStates(t)["hot_idle"])
	require.Equal(t, hot, b.poolStates(t)["terminated"])
}

// TestUnneededRequestsAreCancelled: a request not yet launched is dropped without a
// provider call; one booting is terminated.
func TestUnneededRequestsAreCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cat := catalog.Default()
	cloud, err := sim.New(sim.Options{Catalog: cat, Clock: b.clock, Seed: 4})
	require.NoError(t, err)
	s := New(b.rt, Options{Provider: cloud, Catalog: cat})
	b.request(t, "key-later", "c7i.large")
	_, err = b.pool.Exec(context.Background(), `UPDATE vms SET launch_at = launch_at + interval '1 hour' WHERE key = 'key-later'`)
	require.NoError(t, err)
	b.request(t, "key-booting", "c7i.large")
	_, err = s.launchDue(context.Background())
	require.NoError(t, err)
	st, vmID, _, _ := b.row(t, "key-booting")
	require.Equal(t, "provisioning", st)

	for _, k := range []string{"key-later", "key-booting"} {
		b.handle(t, s.onVMUnneeded, "", events.VMUnneeded{Key: k, Reason: "test"})
	}
	st, _, _, _ = b.row(t, "key-later")
	require.Equal(t, "terminated", st)
	st, _, _, _ = b.row(t, "key-booting")
	require.Equal(t, "terminated", st)
	vm, err := cloud.Describe(context.Background(), vmID)
	if err == nil {
		require.Equal(t, provider.StateTerminated, vm.State)
	}
	require.Len(t, cloud.VMs(), 1, "the request never launched made no VM")
}
