package breaker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/breaker"
	"github.com/foresight-run/foresight/services/poolmanager/provider/providertest"
	"github.com/foresight-run/foresight/services/poolmanager/provider/sim"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// counting wraps a provider and counts the calls that reach it.
type counting struct {
	provider.Provider
	launches atomic.Int64
}

func (c *counting) Launch(ctx context.Context, spec provider.Spec) (provider.VM, error) {
	c.launches.Add(1)
	return c.Provider.Launch(ctx, spec)
}

type bundle struct {
	sim   *sim.Sim
	clk   *clock.Virtual
	inner *counting
	p     *breaker.Provider
	ctx   context.Context
}

func setup(t *testing.T, st breaker.Settings) bundle {
	t.Helper()
	clk := clock.NewVirtual(epoch)
	s, err := sim.New(sim.Options{Catalog: catalog.Default(), Clock: clk, Seed: 3})
	require.NoError(t, err)
	inner := &counting{Provider: s}
	return bundle{sim: s, clk: clk, inner: inner, p: breaker.New(inner, st), ctx: context.Background()}
}

type advancing struct {
	*breaker.Provider
	clk *clock.Virtual
}

func (a advancing) Advance(d time.Duration) { a.clk.Advance(d) }

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, func(t *testing.T) provider.Provider {
		b := setup(t, breaker.Settings{})
		return advancing{Provider: b.p, clk: b.clk}
	})
}

func outage(t *testing.T, b bundle) {
	t.Helper()
	require.NoError(t, b.sim.SetFaults(sim.Faults{Outages: []sim.Window{{Start: epoch, End: epoch.Add(time.Hour)}}}))
}

func TestOutageOpensTheTypeBreakerAndFailsFast(t *testing.T) {
	t.Parallel()
	var changes atomic.Int64
	b := setup(t, breaker.Settings{ConsecutiveFailures: 3, ProviderConsecutiveFailures: 100,
		OnStateChange: func(breaker.Scope, gobreaker.State, gobreaker.State) { changes.Add(1) }})
	outage(t, b)
	spec := provider.Spec{Key: "k", InstanceType: "m7i.large"}
	for range 3 {
		_, err := b.p.Launch(b.ctx, spec)
		require.ErrorIs(t, err, provider.ErrUnavailable)
		require.NotErrorIs(t, err, breaker.ErrOpen)
	}
	require.Equal(t, int64(3), b.inner.launches.Load())
	require.True(t, b.p.Open(breaker.TierCold, "m7i.large"))
	require.Equal(t, gobreaker.StateOpen, b.p.State(breaker.Scope{Tier: breaker.TierCold, InstanceType: "m7i.large"}))
	require.Equal(t, int64(1), changes.Load())

	_, err := b.p.Launch(b.ctx, spec)
	require.ErrorIs(t, err, breaker.ErrOpen)
	require.ErrorContains(t, err, "cold/m7i.large")
	require.Equal(t, int64(3), b.inner.launches.Load(), "an open breaker must not call the provider")

	// Other types, the warm tier and the hot tier are still usable.
	require.False(t, b.p.Open(breaker.TierCold, "c7i.large"))
	require.False(t, b.p.Open(breaker.TierWarm, "m7i.large"))
	require.False(t, b.p.Open("hot", "m7i.large"))
	require.False(t, b.p.Open(breaker.TierCold, ""))
}

func TestProviderWideBreakerTripsAcrossTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, breaker.Settings{ConsecutiveFailures: 5, ProviderConsecutiveFailures: 4})
	outage(t, b)
	for i, typ := range []string{"m7i.large", "c7i.large", "r7i.large", "m7i.xlarge"} {
		_, err := b.p.Launch(b.ctx, provider.Spec{Key: typ, InstanceType: typ})
		require.ErrorIs(t, err, provider.ErrUnavailable, "call %d", i)
	}
	require.Equal(t, gobreaker.StateOpen, b.p.State(breaker.Scope{Tier: breaker.TierProvider}))
	for _, tier := range []string{breaker.TierCold, breaker.TierWarm} {
		require.True(t, b.p.Open(tier, ""))
		require.True(t, b.p.Open(tier, "r7i.8xlarge"))
	}
	require.False(t, b.p.Open("hot", ""), "running VMs need no provider call")
	_, err := b.p.Describe(b.ctx, "sim-000001")
	require.ErrorIs(t, err, breaker.ErrOpen)
	require.ErrorContains(t, err, "provider")
	require.True(t, provider.IsHealthError(err), "callers NAK with delay, as for an outage")

	st := b.p.Statuses()
	require.Equal(t, breaker.TierProvider, st[0].Scope.Tier)
	require.Len(t, st, 6, "provider-wide, four cold scopes and control")
}

func TestNonHealthErrorsDoNotTrip(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func(b bundle) error
	}{
		{"invalid", func(b bundle) error {
			_, err := b.p.Launch(b.ctx, provider.Spec{Key: "", InstanceType: "m7i.large"})
			return err
		}},
		{"unknown type", func(b bundle) error {
			_, err := b.p.Launch(b.ctx, provider.Spec{Key: "x", InstanceType: "m7i.large", Cores: 99})
			return err
		}},
		{"not found", func(b bundle) error {
			_, err := b.p.Describe(b.ctx, "nope")
			return err
		}},
		{"canceled", func(b bundle) error {
			_, err := b.p.Launch(canceled, provider.Spec{Key: "c", InstanceType: "m7i.large"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, breaker.Settings{ConsecutiveFailures: 2, ProviderConsecutiveFailures: 2})
			for range 10 {
				err := tt.call(b)
				require.Error(t, err)
				require.NotErrorIs(t, err, breaker.ErrOpen)
			}
			for _, s := range b.p.Statuses() {
				require.Equal(t, gobreaker.StateClosed, s.State, s.Scope.String())
			}
		})
	}
}

func TestQuotaDoesNotTrip(t *testing.T) {
	t.Parallel()
	clk := clock.NewVirtual(epoch)
	cat := catalog.Default()
	cat.Quotas = catalog.Quotas{MaxVMs: 1, MaxCores: 100}
	s, err := sim.New(sim.Options{Catalog: cat, Clock: clk})
	require.NoError(t, err)
	p := breaker.New(s, breaker.Settings{ConsecutiveFailures: 2, ProviderConsecutiveFailures: 2})
	_, err = p.Launch(context.Background(), provider.Spec{Key: "first", InstanceType: "m7i.large"})
	require.NoError(t, err)
	for i := range 5 {
		_, err = p.Launch(context.Background(), provider.Spec{Key: string(rune('a' + i)), InstanceType: "m7i.large"})
		require.ErrorIs(t, err, provider.ErrQuotaExceeded)
	}
	require.False(t, p.Open(breaker.TierCold, "m7i.large"))
}

func TestStartUsesTheWarmBreakerOfTheVMsType(t *testing.T) {
	t.Parallel()
	b := setup(t, breaker.Settings{ConsecutiveFailures: 2, ProviderConsecutiveFailures: 100})
	vm, err := b.p.Launch(b.ctx, provider.Spec{Key: "w", InstanceType: "c7i.xlarge"})
	require.NoError(t, err)
	_, err = b.p.Stop(b.ctx, vm.ID)
	require.NoError(t, err)
	require.NoError(t, b.sim.SetFaults(sim.Faults{ErrorRate: 1}))
	for range 2 {
		_, err = b.p.Start(b.ctx, vm.ID)
		require.ErrorIs(t, err, provider.ErrUnavailable)
	}
	require.True(t, b.p.Open(breaker.TierWarm, "c7i.xlarge"))
	require.False(t, b.p.Open(breaker.TierCold, "c7i.xlarge"))
}

func TestHalfOpenProbeClosesAfterRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t, breaker.Settings{ConsecutiveFailures: 1, ProviderConsecutiveFailures: 100, Timeout: 20 * time.Millisecond})
	require.NoError(t, b.sim.SetFaults(sim.Faults{ErrorRate: 1}))
	_, err := b.p.Launch(b.ctx, provider.Spec{Key: "h", InstanceType: "m7i.large"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	require.True(t, b.p.Open(breaker.TierCold, "m7i.large"))

	require.NoError(t, b.sim.SetFaults(sim.Faults{}))
	scope := breaker.Scope{Tier: breaker.TierCold, InstanceType: "m7i.large"}
	require.Eventually(t, func() bool { return b.p.State(scope) == gobreaker.StateHalfOpen }, 5*time.Second, 5*time.Millisecond)
	_, err = b.p.Launch(b.ctx, provider.Spec{Key: "h", InstanceType: "m7i.large"})
	require.NoError(t, err)
	require.Equal(t, gobreaker.StateClosed, b.p.State(scope))
}
