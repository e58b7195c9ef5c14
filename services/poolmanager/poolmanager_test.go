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
	brk := breaker.New(cloud, breaker.Settings{ConsecutiveFailures: 2})
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
}
