package pool

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

func toyCatalog(q catalog.Quotas) catalog.Catalog {
	big := toy
	big.Name, big.Cores, big.MemoryBytes, big.PricePerSecond = "big", 8, 16*catalog.GiB, 0.004
	return catalog.Catalog{Types: []catalog.InstanceType{toy, big}, MinimumBillSeconds: 60, Quotas: q}
}

func pt(off, cores, p90 float64) events.DemandPoint {
	return events.DemandPoint{OffsetSeconds: off, Cores: cores, CoresP90: p90}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	roomy := catalog.Quotas{MaxVMs: 100, MaxCores: 1000}
	// toy: 2 cores, warm lead 50 s, cold lead 100 s.
	tests := []struct {
		name      string
		demand    []events.DemandPoint
		opts      TargetOptions
		quotas    catalog.Quotas
		hot, warm int
	}{
		{"nothing forecast", nil, TargetOptions{}, roomy, 0, 0},
		{"demand now", []events.DemandPoint{pt(0, 3, 3)}, TargetOptions{}, roomy, 2, 0},
		{"in force from before now", []events.DemandPoint{pt(-30, 4, 4), pt(200, 0, 0)}, TargetOptions{}, roomy, 2, 0},
		{"superseded before now", []events.DemandPoint{pt(-30, 40, 40), pt(-1, 2, 2)}, TargetOptions{}, roomy, 1, 0},
		{"wave inside the cold lead only", []events.DemandPoint{pt(0, 2, 2), pt(70, 8, 8)}, TargetOptions{}, roomy, 1, 3},
		{"wave beyond the cold lead", []events.DemandPoint{pt(0, 2, 2), pt(150, 80, 80)}, TargetOptions{}, roomy, 1, 0},
		{"p90 sizing", []events.DemandPoint{pt(0, 2, 5)}, TargetOptions{UseP90: true}, roomy, 3, 0},
		{"mean sizing ignores p90", []events.DemandPoint{pt(0, 2, 5)}, TargetOptions{}, roomy, 1, 0},
		{"vm quota caps warm then hot", []events.DemandPoint{pt(0, 6, 6), pt(60, 12, 12)}, TargetOptions{}, catalog.Quotas{MaxVMs: 4, MaxCores: 1000}, 3, 1},
		{"core quota caps hot", []events.DemandPoint{pt(0, 20, 20)}, TargetOptions{}, catalog.Quotas{MaxVMs: 100, MaxCores: 7}, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Targets(map[string][]events.DemandPoint{"toy": tt.demand}, toyCatalog(tt.quotas), tt.opts)
			require.Len(t, got, 1)
			require.Equal(t, "toy", got[0].InstanceType)
			require.Equal(t, tt.hot, got[0].Hot, got[0].Reason)
			require.Equal(t, tt.warm, got[0].Warm, got[0].Reason)
			require.NotEmpty(t, got[0].Reason)
		})
	}
}

func TestTargetsMemoryAndTypes(t *testing.T) {
	t.Parallel()
	mem := []events.DemandPoint{{OffsetSeconds: 0, Cores: 1, MemoryBytes: 10 * catalog.GiB}}
	got := Targets(map[string][]events.DemandPoint{"toy": mem, "big": mem, "nope": mem},
		toyCatalog(catalog.Quotas{MaxVMs: 100, MaxCores: 1000}), TargetOptions{})
	require.Len(t, got, 3)
	byName := map[string]Target{}
	for _, g := range got {
		byName[g.InstanceType] = g
	}
	require.Equal(t, 3, byName["toy"].Hot, "10 GiB needs three 4 GiB VMs")
	require.Equal(t, 1, byName["big"].Hot)
	require.Zero(t, byName["nope"].Hot)
	require.Contains(t, byName["nope"].Reason, "not in the catalog")
	// Deterministic order.
	require.Equal(t, []string{"big", "nope", "toy"}, []string{got[0].InstanceType, got[1].InstanceType, got[2].InstanceType})
}
