package sim_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/providertest"
	"github.com/foresight-run/foresight/services/poolmanager/provider/sim"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// virtualSim is a Sim with the virtual clock it runs on, so the conformance suite can
// advance time instead of sleeping.
type virtualSim struct {
	*sim.Sim
	clk *clock.Virtual
}

func (v virtualSim) Advance(d time.Duration) { v.clk.Advance(d) }

type bundle struct {
	sim *sim.Sim
	clk *clock.Virtual
	cat catalog.Catalog
	ctx context.Context
}

func setup(t *testing.T, mutate func(*sim.Options)) bundle {
	t.Helper()
	clk := clock.NewVirtual(epoch)
	opts := sim.Options{Catalog: catalog.Default(), Clock: clk, Seed: 7}
	if mutate != nil {
		mutate(&opts)
	}
	s, err := sim.New(opts)
	require.NoError(t, err)
	return bundle{sim: s, clk: clk, cat: opts.Catalog, ctx: context.Background()}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, func(t *testing.T) provider.Provider {
		b := setup(t, nil)
		return virtualSim{Sim: b.sim, clk: b.clk}
	})
}

func TestConformanceRealClock(t *testing.T) {
	t.Parallel()
	// Sub-second latencies so the suite runs on the wall clock quickly.
	cat := catalog.Default()
	for i := range cat.Types {
		cat.Types[i].Warm = catalog.Latency{MeanSeconds: 0.02, P90Seconds: 0.03}
		cat.Types[i].Cold = catalog.Latency{MeanSeconds: 0.03, P90Seconds: 0.04}
	}
	providertest.Run(t, func(t *testing.T) provider.Provider {
		s, err := sim.New(sim.Options{Catalog: cat, Clock: clock.Real{}, Seed: 1})
		require.NoError(t, err)
		return s
	})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	clk := clock.NewVirtual(epoch)
	tests := []struct {
		name string
		opts sim.Options
	}{
		{"no clock", sim.Options{Catalog: catalog.Default()}},
		{"no catalog", sim.Options{Clock: clk}},
		{"error rate above one", sim.Options{Catalog: catalog.Default(), Clock: clk, Faults: sim.Faults{ErrorRate: 1.5}}},
		{"slow without factor", sim.Options{Catalog: catalog.Default(), Clock: clk, Faults: sim.Faults{SlowLaunchRate: 0.5}}},
		{"empty outage", sim.Options{Catalog: catalog.Default(), Clock: clk, Faults: sim.Faults{Outages: []sim.Window{{Start: epoch, End: epoch}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sim.New(tt.opts)
			require.Error(t, err)
		})
	}
}

func TestLaunchedAheadIsReadyAtLaunchPlusLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	it, _ := b.cat.Type("m7i.large")
	vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: "wf1/t1/v1", InstanceType: it.Name})
	require.NoError(t, err)
	require.Equal(t, provider.StatePending, vm.State)
	require.Equal(t, epoch, vm.LaunchedAt)
	lat := vm.ReadyAt.Sub(vm.LaunchedAt).Seconds()
	require.Positive(t, lat)
	require.Less(t, lat, 10*it.Cold.P90Seconds, "a cold launch drawn from the catalog's lognormal")

	// Just before ReadyAt it is still pending; at ReadyAt it runs.
	b.clk.Set(vm.ReadyAt.Add(-time.Millisecond))
	got, err := b.sim.Describe(b.ctx, vm.ID)
	require.NoError(t, err)
	require.Equal(t, provider.StatePending, got.State)
	b.clk.Set(vm.ReadyAt)
	got, err = b.sim.Describe(b.ctx, vm.ID)
	require.NoError(t, err)
	require.Equal(t, provider.StateRunning, got.State)
}

func TestLatenciesFollowTheCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.Catalog.Quotas = catalog.Quotas{MaxVMs: 10000, MaxCores: 1e6} })
	const n = 2000
	coldSum, warmSum := 0.0, 0.0
	for i := range n {
		vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: string(rune('a'+i%26)) + time.Duration(i).String(), InstanceType: "c7i.large"})
		require.NoError(t, err)
		coldSum += vm.ReadyAt.Sub(vm.LaunchedAt).Seconds()
		_, err = b.sim.Stop(b.ctx, vm.ID)
		require.NoError(t, err)
		started, err := b.sim.Start(b.ctx, vm.ID)
		require.NoError(t, err)
		warmSum += started.ReadyAt.Sub(b.clk.Now()).Seconds()
	}
	it, _ := b.cat.Type("c7i.large")
	require.InDelta(t, it.Cold.MeanSeconds, coldSum/n, 0.05*it.Cold.MeanSeconds)
	require.InDelta(t, it.Warm.MeanSeconds, warmSum/n, 0.05*it.Warm.MeanSeconds)
}

func TestSameSeedSameLatencies(t *testing.T) {
	t.Parallel()
	a, b := setup(t, nil), setup(t, nil)
	c := setup(t, func(o *sim.Options) { o.Seed = 8 })
	keys := []string{"k1", "k2", "k3"}
	// Launch in opposite orders: hashing by key makes the order irrelevant.
	differs := false
	for i := range keys {
		va, err := a.sim.Launch(a.ctx, provider.Spec{Key: keys[i], InstanceType: "m7i.large"})
		require.NoError(t, err)
		j := len(keys) - 1 - i
		vb, err := b.sim.Launch(b.ctx, provider.Spec{Key: keys[j], InstanceType: "m7i.large"})
		require.NoError(t, err)
		_ = vb
		vc, err := c.sim.Launch(c.ctx, provider.Spec{Key: keys[i], InstanceType: "m7i.large"})
		require.NoError(t, err)
		differs = differs || !vc.ReadyAt.Equal(va.ReadyAt)
	}
	for _, k := range keys {
		require.Equal(t, readyOf(t, a, k), readyOf(t, b, k), "key %s", k)
	}
	require.True(t, differs, "another seed should draw other latencies")
}

func readyOf(t *testing.T, b bundle, key string) time.Time {
	t.Helper()
	for _, vm := range b.sim.VMs() {
		if vm.Key == key {
			return vm.ReadyAt
		}
	}
	t.Fatalf("no vm for key %s", key)
	return time.Time{}
}

func TestSameKeyOneVMAcrossCrash(t *testing.T) {
	t.Parallel()
	// The response of the first launch is lost, as if the pool manager crashed between the
	// provider call and its Postgres commit; the restarted pool manager retries the key
	// against a new Sim over the same cloud.
	b := setup(t, func(o *sim.Options) { o.Faults.LostResponseRate = 1 })
	spec := provider.Spec{Key: "wf1/req3/v2", WorkflowID: "wf1", InstanceType: "r7i.large"}
	_, err := b.sim.Launch(b.ctx, spec)
	require.ErrorIs(t, err, provider.ErrUnavailable)

	restarted, err := sim.New(sim.Options{Catalog: b.cat, Clock: b.clk, Seed: 7, Ledger: b.sim.Ledger()})
	require.NoError(t, err)
	vm1, err := restarted.Launch(b.ctx, spec)
	require.NoError(t, err)
	vm2, err := restarted.Launch(b.ctx, spec)
	require.NoError(t, err)
	require.Equal(t, vm1.ID, vm2.ID)
	require.Len(t, restarted.VMs(), 1, "exactly one VM for the key")
	require.Equal(t, []string{spec.Key}, restarted.Ledger().Keys())

	// The same key with another shape is a caller bug, not a second VM.
	other := spec
	other.InstanceType = "m7i.large"
	_, err = restarted.Launch(b.ctx, other)
	require.ErrorIs(t, err, provider.ErrInvalid)
	require.Len(t, restarted.VMs(), 1)
}

func TestConcurrentSameKeyOneVM(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := b.sim.Launch(b.ctx, provider.Spec{Key: "same", InstanceType: "m7i.large"})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Len(t, b.sim.VMs(), 1)
}

func TestBillingMinimumsAndWarmStorage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		billBoot bool
	}{
		{"billed from ready", false},
		{"billed from request", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *sim.Options) { o.BillBoot = tt.billBoot })
			it, _ := b.cat.Type("m7i.xlarge")
			vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: "bill", InstanceType: it.Name})
			require.NoError(t, err)
			boot := vm.ReadyAt.Sub(vm.LaunchedAt)
			if tt.billBoot {
				require.InDelta(t, 60*it.PricePerSecond, b.sim.Bill(), 1e-12, "the minimum is owed at once")
			} else {
				require.Zero(t, b.sim.Bill(), "nothing is owed while booting")
			}

			// Run 10 s past ready, stop: still one minimum.
			b.clk.Set(vm.ReadyAt.Add(10 * time.Second))
			_, err = b.sim.Stop(b.ctx, vm.ID)
			require.NoError(t, err)
			u, err := b.sim.Usage(vm.ID)
			require.NoError(t, err)
			require.Equal(t, 1, u.Starts)
			run := 10.0
			if tt.billBoot {
				run += boot.Seconds()
			}
			require.InDelta(t, run, u.RunSeconds, 1e-6)
			require.InDelta(t, max(run, 60), u.BilledRunSeconds, 1e-6)

			// Stopped for an hour: storage only.
			b.clk.Advance(time.Hour)
			u, _ = b.sim.Usage(vm.ID)
			require.InDelta(t, 3600, u.WarmSeconds, 1e-9)
			require.InDelta(t, 3600*it.WarmCostPerSecond, u.WarmCost, 1e-12)
			require.InDelta(t, max(run, 60)*it.PricePerSecond, u.ComputeCost, 1e-12)

			// Start again and run 100 s past ready: a second start, per second past the minimum.
			started, err := b.sim.Start(b.ctx, vm.ID)
			require.NoError(t, err)
			reboot := started.ReadyAt.Sub(b.clk.Now())
			b.clk.Set(started.ReadyAt.Add(100 * time.Second))
			require.NoError(t, b.sim.Terminate(b.ctx, vm.ID))
			u, _ = b.sim.Usage(vm.ID)
			require.Equal(t, 2, u.Starts)
			second := 100.0
			if tt.billBoot {
				second += reboot.Seconds()
			}
			want := (max(run, 60)+second)*it.PricePerSecond + 3600*it.WarmCostPerSecond
			require.InDelta(t, want, u.Total(), 1e-9)
			require.InDelta(t, want, b.sim.Bill(), 1e-9)
			// Agrees with the catalog's billing rule.
			require.InDelta(t, b.cat.BilledCost(it, run)+b.cat.BilledCost(it, second), u.ComputeCost, 1e-9)

			// Terminated: the bill stops growing.
			b.clk.Advance(time.Hour)
			require.InDelta(t, want, b.sim.Bill(), 1e-9)
		})
	}
}

func TestStoppedWhileBootingIsNotBilledFromReady(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: "early", InstanceType: "c7i.large"})
	require.NoError(t, err)
	b.clk.Advance(time.Second)
	require.NoError(t, b.sim.Terminate(b.ctx, vm.ID))
	require.Zero(t, b.sim.Bill(), "it never reached running")
}

func TestQuotas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		quotas catalog.Quotas
		types  []string
		okN    int
	}{
		{"vm count", catalog.Quotas{MaxVMs: 2, MaxCores: 1000}, []string{"m7i.large", "m7i.large", "m7i.large"}, 2},
		{"vcpus", catalog.Quotas{MaxVMs: 100, MaxCores: 10}, []string{"m7i.2xlarge", "m7i.large", "m7i.large"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *sim.Options) { o.Catalog.Quotas = tt.quotas })
			var ids []string
			for i, typ := range tt.types {
				vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: typ + string(rune('0'+i)), InstanceType: typ})
				if i < tt.okN {
					require.NoError(t, err)
					ids = append(ids, vm.ID)
					continue
				}
				require.ErrorIs(t, err, provider.ErrQuotaExceeded)
				require.False(t, provider.IsHealthError(err), "quota must not trip a breaker")
			}
			// A stopped standby frees its share; starting it again needs the quota back.
			_, err := b.sim.Stop(b.ctx, ids[0])
			require.NoError(t, err)
			last := tt.types[len(tt.types)-1]
			vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: "after-stop", InstanceType: last})
			require.NoError(t, err)
			_, err = b.sim.Start(b.ctx, ids[0])
			require.ErrorIs(t, err, provider.ErrQuotaExceeded)
			require.NoError(t, b.sim.Terminate(b.ctx, vm.ID))
			_, err = b.sim.Start(b.ctx, ids[0])
			require.NoError(t, err)
		})
	}
}

func TestOutageWindowAndErrorRate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) {
		o.Faults.Outages = []sim.Window{{Start: epoch.Add(time.Minute), End: epoch.Add(2 * time.Minute)}}
	})
	_, err := b.sim.Launch(b.ctx, provider.Spec{Key: "before", InstanceType: "m7i.large"})
	require.NoError(t, err)
	b.clk.Advance(90 * time.Second)
	_, err = b.sim.Launch(b.ctx, provider.Spec{Key: "during", InstanceType: "m7i.large"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	require.True(t, provider.IsHealthError(err))
	require.Len(t, b.sim.VMs(), 1, "a failed call has no effect")
	b.clk.Advance(30 * time.Second)
	_, err = b.sim.Launch(b.ctx, provider.Spec{Key: "after", InstanceType: "m7i.large"})
	require.NoError(t, err)

	// An error rate of 0.3 fails about 30% of calls, reproducibly for a seed.
	require.NoError(t, b.sim.SetFaults(sim.Faults{ErrorRate: 0.3}))
	failed := 0
	for range 1000 {
		if _, err := b.sim.Describe(b.ctx, "sim-000001"); err != nil {
			require.ErrorIs(t, err, provider.ErrUnavailable)
			failed++
		}
	}
	require.InDelta(t, 300, failed, 60)
}

func TestSlowLaunches(t *testing.T) {
	t.Parallel()
	fast := setup(t, nil)
	slow := setup(t, func(o *sim.Options) { o.Faults = sim.Faults{SlowLaunchRate: 1, SlowLaunchFactor: 5} })
	a, err := fast.sim.Launch(fast.ctx, provider.Spec{Key: "k", InstanceType: "m7i.large"})
	require.NoError(t, err)
	s, err := slow.sim.Launch(slow.ctx, provider.Spec{Key: "k", InstanceType: "m7i.large"})
	require.NoError(t, err)
	require.InDelta(t, 5*a.ReadyAt.Sub(a.LaunchedAt).Seconds(), s.ReadyAt.Sub(s.LaunchedAt).Seconds(), 1e-6)
}

func TestLaunchValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tests := []struct {
		name string
		spec provider.Spec
		want error
	}{
		{"unknown type", provider.Spec{Key: "a", InstanceType: "x9.huge"}, provider.ErrInvalid},
		{"too big for type", provider.Spec{Key: "b", InstanceType: "m7i.large", Cores: 4}, provider.ErrInvalid},
		{"fits nothing", provider.Spec{Key: "c", Cores: 1000}, provider.ErrInvalid},
		{"negative", provider.Spec{Key: "d", Cores: -1}, provider.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.sim.Launch(b.ctx, tt.spec)
			require.ErrorIs(t, err, tt.want)
		})
	}
	vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: "fit", Cores: 3, MemoryBytes: 20 * catalog.GiB})
	require.NoError(t, err)
	require.Equal(t, "r7i.xlarge", vm.InstanceType, "cheapest type with 3 cores and 20 GiB")
}

func TestFaultsConfinedToTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.Faults = sim.Faults{ErrorRate: 1, Types: []string{"m7i.large"}} })
	_, err := b.sim.Launch(b.ctx, provider.Spec{Key: "short", InstanceType: "m7i.large"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	vm, err := b.sim.Launch(b.ctx, provider.Spec{Key: "other", InstanceType: "c7i.large"})
	require.NoError(t, err)
	_, err = b.sim.Describe(b.ctx, vm.ID)
	require.NoError(t, err, "control calls are not confined faults")
}

func TestLedgerSurvivesAProcessRestartAsJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	spec := provider.Spec{Key: "wf9/req1/v1", InstanceType: "m7i.large"}
	first, err := b.sim.Launch(b.ctx, spec)
	require.NoError(t, err)
	stopped, err := b.sim.Launch(b.ctx, provider.Spec{Key: "wf9/req2/v1", InstanceType: "c7i.large"})
	require.NoError(t, err)
	b.clk.Set(stopped.ReadyAt.Add(time.Minute))
	_, err = b.sim.Stop(b.ctx, stopped.ID)
	require.NoError(t, err)
	billBefore := b.sim.Bill()

	data, err := json.Marshal(b.sim.Ledger())
	require.NoError(t, err)
	restored := sim.NewLedger()
	require.NoError(t, json.Unmarshal(data, restored))

	again, err := sim.New(sim.Options{Catalog: b.cat, Clock: b.clk, Seed: 7, Ledger: restored})
	require.NoError(t, err)
	require.InDelta(t, billBefore, again.Bill(), 1e-12)
	vm, err := again.Launch(b.ctx, spec)
	require.NoError(t, err)
	require.Equal(t, first.ID, vm.ID, "the restored ledger remembers the key")
	fresh, err := again.Launch(b.ctx, provider.Spec{Key: "wf9/req3/v1", InstanceType: "m7i.large"})
	require.NoError(t, err)
	require.NotContains(t, []string{first.ID, stopped.ID}, fresh.ID, "ids keep counting")
	require.Len(t, again.VMs(), 3)

	require.Error(t, json.Unmarshal([]byte(`{"vms":[{"id":""}]}`), sim.NewLedger()))
}
