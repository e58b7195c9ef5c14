package pool_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/services/poolmanager/pool"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/breaker"
	"github.com/foresight-run/foresight/services/poolmanager/provider/sim"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type bundle struct {
	cat catalog.Catalog
	clk *clock.Virtual
	sim *sim.Sim
	p   *breaker.Provider
	ctx context.Context
}

func setup(t *testing.T, seed uint64) bundle {
	t.Helper()
	cat := catalog.Default()
	clk := clock.NewVirtual(epoch)
	s, err := sim.New(sim.Options{Catalog: cat, Clock: clk, Seed: seed})
	require.NoError(t, err)
	p := breaker.New(s, breaker.Settings{ConsecutiveFailures: 3, ProviderConsecutiveFailures: 6, Timeout: time.Hour})
	return bundle{cat: cat, clk: clk, sim: s, p: p, ctx: context.Background()}
}

// A VM requested one P90 cold latency ahead of its need is ready by then about nine times in
// ten, and the pool's state machine follows the provider from request to hot.
func TestLaunchAheadIsReadyWhenNeeded(t *testing.T) {
	t.Parallel()
	b := setup(t, 11)
	it, _ := b.cat.Type("c7i.large")
	lead := time.Duration(it.Cold.P90Seconds * float64(time.Second))
	const n = 100
	onTime := 0
	for i := range n {
		need := b.clk.Now().Add(lead)
		state := pool.StateRequested
		vm, err := b.p.Launch(b.ctx, provider.Spec{Key: fmt.Sprintf("wf/req%d/v1", i), InstanceType: it.Name})
		require.NoError(t, err)
		state, err = pool.Transition(state, pool.EventProvision)
		require.NoError(t, err)

		// Pending until ReadyAt, running from then on.
		b.clk.Set(vm.ReadyAt.Add(-time.Millisecond))
		got, err := b.p.Describe(b.ctx, vm.ID)
		require.NoError(t, err)
		require.Equal(t, provider.StatePending, got.State)
		b.clk.Set(vm.ReadyAt)
		got, err = b.p.Describe(b.ctx, vm.ID)
		require.NoError(t, err)
		require.Equal(t, provider.StateRunning, got.State)
		state, err = pool.Transition(state, pool.EventReady)
		require.NoError(t, err)
		require.Equal(t, pool.StateHotIdle, state)
		if !vm.ReadyAt.After(need) {
			onTime++
		}
		b.clk.Set(need)
		require.NoError(t, b.p.Terminate(b.ctx, vm.ID))
	}
	t.Logf("%d of %d ready by their need", onTime, n)
	require.InDelta(t, 90, onTime, 8, "launched one P90 ahead, ~90%% are ready in time")
}

// A capacity shortage of one type opens that type's breaker; the fallback launches another
// type that fits, through the same breaker-guarded provider.
func TestTypeOutageOpensBreakerAndFallsBackToAnotherType(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	require.NoError(t, b.sim.SetFaults(sim.Faults{ErrorRate: 1, Types: []string{"m7i.large"}}))
	spec := provider.Spec{Key: "wf/req1/v1", InstanceType: "m7i.large", Cores: 2, MemoryBytes: 4 * catalog.GiB}
	var err error
	for range 3 {
		_, err = b.p.Launch(b.ctx, spec)
		require.ErrorIs(t, err, provider.ErrUnavailable)
	}
	_, err = b.p.Launch(b.ctx, spec)
	require.ErrorIs(t, err, breaker.ErrOpen)

	alt, reason, err := pool.Fallback(pool.Request{
		Option: pool.Option{Tier: pool.TierCold, InstanceType: "m7i.large"}, Cores: 2, MemoryBytes: 4 * catalog.GiB,
	}, b.cat, b.p)
	require.NoError(t, err)
	require.Equal(t, pool.Option{Tier: pool.TierCold, InstanceType: "c7i.large"}, alt)
	require.Contains(t, reason, "breaker open")

	// The key carries the plan's choice; the fallback is a new request with its own key.
	vm, err := b.p.Launch(b.ctx, provider.Spec{Key: "wf/req1/v1/fallback", InstanceType: alt.InstanceType})
	require.NoError(t, err)
	require.Equal(t, "c7i.large", vm.InstanceType)
}

// A full outage opens the provider-wide breaker: neither warm nor cold can be had, so the
// fallback uses an idle hot VM the pool already holds, or says there is none.
func TestFullOutageFallsBackToHotOrReportsNone(t *testing.T) {
	t.Parallel()
	b := setup(t, 6)
	b.clk.Advance(time.Minute)
	require.NoError(t, b.sim.SetFaults(sim.Faults{Outages: []sim.Window{{Start: b.clk.Now(), End: b.clk.Now().Add(time.Hour)}}}))
	for i, typ := range []string{"m7i.large", "c7i.large", "r7i.large", "m7i.xlarge", "c7i.xlarge", "r7i.xlarge"} {
		_, err := b.p.Launch(b.ctx, provider.Spec{Key: fmt.Sprintf("k%d", i), InstanceType: typ})
		require.ErrorIs(t, err, provider.ErrUnavailable)
	}
	require.True(t, b.p.Open(pool.TierCold, ""))
	require.True(t, b.p.Open(pool.TierWarm, "m7i.large"))

	req := pool.Request{
		Option: pool.Option{Tier: pool.TierWarm, InstanceType: "m7i.large"}, Cores: 2, MemoryBytes: 8 * catalog.GiB,
		Warm: map[string]int{"m7i.large": 4},
	}
	_, _, err := pool.Fallback(req, b.cat, b.p)
	require.ErrorIs(t, err, pool.ErrNoFallback)

	req.HotIdle = map[string]int{"m7i.xlarge": 1}
	alt, reason, err := pool.Fallback(req, b.cat, b.p)
	require.NoError(t, err)
	require.Equal(t, pool.Option{Tier: pool.TierHot, InstanceType: "m7i.xlarge"}, alt, reason)
}
