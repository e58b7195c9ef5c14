package bench

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	simprov "github.com/foresight-run/foresight/services/poolmanager/provider/sim"
)

// replayOnProvider drives the pool manager's simulated cloud through the VM intervals of
// an execution — launch at request, terminate at release — and returns its bill. Hot VMs
// are launched one cold latency before they must be running, so they are up at hotFrom.
func replayOnProvider(t *testing.T, s *sim) float64 {
	t.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec float64) time.Time { return base.Add(time.Duration(sec * float64(time.Second))) }
	clk := clock.NewVirtual(base.Add(-time.Hour))
	cloud, err := simprov.New(simprov.Options{Catalog: s.cat, Clock: clk, Seed: 1})
	require.NoError(t, err)
	type op struct {
		t      float64
		launch bool
		v      *simVM
	}
	var ops []op
	for _, v := range s.vms {
		req := v.requestAt
		if v.tier == events.TierHot {
			req = v.hotFrom - v.typ.Cold.MeanSeconds
		}
		ops = append(ops, op{req, true, v}, op{v.releaseAt, false, v})
	}
	sort.SliceStable(ops, func(a, b int) bool {
		if ops[a].t != ops[b].t {
			return ops[a].t < ops[b].t
		}
		return ops[a].launch && !ops[b].launch
	})
	ids := map[int]string{}
	ctx := context.Background()
	for _, o := range ops {
		clk.Set(at(o.t))
		if o.launch {
			vm, err := cloud.Launch(ctx, provider.Spec{Key: "bench-" + strconv.Itoa(o.v.id), InstanceType: o.v.typ.Name,
				Cores: o.v.typ.Cores, MemoryBytes: o.v.typ.MemoryBytes})
			require.NoError(t, err)
			ids[o.v.id] = vm.ID
			continue
		}
		require.NoError(t, cloud.Terminate(ctx, ids[o.v.id]))
	}
	return cloud.Bill()
}

func TestBillingMatchesTheSimProvider(t *testing.T) {
	t.Parallel()
	real, _, err := LoadDir("testdata/real")
	require.NoError(t, err)
	cat := deterministicCatalog() // the provider draws its own latencies; fixed ones agree
	for _, tr := range real {
		for _, pol := range []string{PolicyReactiveCold, PolicyStaticPeak} {
			ex, err := executeBaseline(tr, pol, Options{Catalog: cat}, 1)
			require.NoError(t, err)
			require.InEpsilon(t, replayOnProvider(t, ex.sim), ex.cost, 1e-6, "%s %s", tr.Name, pol)
		}
		dur := make([]float64, len(tr.Tasks))
		for i := range dur {
			dur[i] = tr.Tasks[i].Runtime * 3
		}
		truth := oracleLive(tr)
		ex, err := executePlanned(tr, defaultPlanMaker, dur, oracleAction(), Options{Catalog: cat, NoWarmPool: true}, 1, truth)
		require.NoError(t, err)
		require.InEpsilon(t, replayOnProvider(t, ex.sim), ex.cost, 1e-6, "%s planned", tr.Name)
	}
}
