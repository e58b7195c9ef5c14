package bounds

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// a → {b, c} → d: the longer branch sets the critical path.
func diamond() []Task {
	return []Task{
		{Seconds: 10, Cores: 1, MemoryBytes: 1 << 30},
		{Parents: []int{0}, Seconds: 30, Cores: 2, MemoryBytes: 1 << 30},
		{Parents: []int{0}, Seconds: 5, Cores: 1, MemoryBytes: 2 << 30},
		{Parents: []int{1, 2}, Seconds: 1, Cores: 1, MemoryBytes: 1 << 30},
	}
}

func TestCriticalPathAndWork(t *testing.T) {
	t.Parallel()
	require.InDelta(t, 41, CriticalPath(diamond()), 1e-9)
	c, m := Work(diamond())
	require.InDelta(t, 10+60+5+1, c, 1e-9)
	require.InDelta(t, float64(10+30+10+1)*(1<<30), m, 1)
	// Listed out of order, the path is the same.
	d := diamond()
	d[0], d[3] = d[3], d[0]
	d[0].Parents, d[3].Parents = []int{1, 2}, nil
	d[1].Parents, d[2].Parents = []int{3}, []int{3}
	require.InDelta(t, 41, CriticalPath(d), 1e-9)
	// A cycle (never valid) is left out rather than looping.
	require.InDelta(t, 0, CriticalPath([]Task{{Parents: []int{1}, Seconds: 1}, {Parents: []int{0}, Seconds: 1}}), 1e-9)
}

func TestMakespanCountsTheFastestStartUnlessAVMWasHot(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	hot := Makespan(diamond(), cat, true)
	require.InDelta(t, 41, hot, 1e-9)
	require.InDelta(t, hot+MinLaunchLatency(cat), Makespan(diamond(), cat, false), 1e-9)
	require.Greater(t, MinLaunchLatency(cat), 0.0)
	// A core quota can bind harder than the dependencies.
	cat.Quotas.MaxCores = 1
	c, _ := Work(diamond())
	require.InDelta(t, c, Makespan(diamond(), cat, true), 1e-9)
}

func TestCostIsNoMoreThanAnySingleTypeAndAtLeastOneMinimumCharge(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	lb := Cost(diamond(), cat)
	c, m := Work(diamond())
	for _, typ := range cat.Types {
		// Running the work on one type alone, packed perfectly, is a feasible LP point.
		single := max(c/typ.Cores, m/float64(typ.MemoryBytes)) * typ.PricePerSecond
		require.LessOrEqual(t, lb, max(single, cat.BilledCost(typ, 0))+1e-12, typ.Name)
	}
	minCharge := cat.BilledCost(cat.Types[0], 0)
	for _, typ := range cat.Types {
		minCharge = min(minCharge, cat.BilledCost(typ, 0))
	}
	require.GreaterOrEqual(t, lb, minCharge)
	require.Zero(t, Cost(diamond(), catalog.Catalog{}), "no types, no bound")
}
