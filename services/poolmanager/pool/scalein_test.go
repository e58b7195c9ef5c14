package pool

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// toy has round numbers: $0.001/s running, $0.00001/s stopped, warm P90 50 s, cold P90 100 s.
var toy = catalog.InstanceType{
	Name: "toy", Cores: 2, MemoryBytes: 4 * catalog.GiB,
	PricePerSecond: 0.001, WarmCostPerSecond: 0.00001,
	Warm: catalog.Latency{MeanSeconds: 40, P90Seconds: 50},
	Cold: catalog.Latency{MeanSeconds: 80, P90Seconds: 100},
}

func TestScaleIn(t *testing.T) {
	t.Parallel()
	running := IdleVM{ID: "vm", InstanceType: "toy", SinceStartSeconds: 600}
	stopped := IdleVM{ID: "vm", InstanceType: "toy", Stopped: true}
	tests := []struct {
		name string
		vm   IdleVM
		g    float64
		want Action
		// cost of the chosen option, NaN to skip
		cost float64
	}{
		{"needed before a warm start could return", running, 10, ActionKeepHot, 0.01},
		{"needed just before the warm lead", running, 49, ActionKeepHot, 0.049},
		// hot 0.06 vs warm 0.00001×60 + 0.001×60 = 0.0606: a restart's minimum is dearer.
		{"gap within one minimum bill", running, 60, ActionKeepHot, 0.06},
		// hot 0.061 vs warm 0.06061; a launch cannot be back by 61 s.
		{"gap past the minimum, shorter than a launch", running, 61, ActionStop, 0.06061},
		{"gap just short of the cold lead", running, 99, ActionStop, 0.06099},
		// cold 0.06 < warm 0.061.
		{"gap at the cold lead: relaunch ahead", running, 100, ActionTerminate, 0.06},
		{"long gap", running, 6000, ActionTerminate, 0.06},
		{"no need forecast", running, math.Inf(1), ActionTerminate, 0},
		// 50 s of the minimum are prepaid: hot costs 0.05 < 0.06.
		{"prepaid minimum keeps it hot", IdleVM{SinceStartSeconds: 10}, 100, ActionKeepHot, 0.05},
		{"stopped, needed very soon: start now", stopped, 30, ActionKeepWarm, 0.06},
		{"stopped, gap shorter than a launch", stopped, 80, ActionKeepWarm, 0.0608},
		{"stopped, long gap", stopped, 1000, ActionTerminate, 0.06},
		{"stopped, no need", stopped, math.Inf(1), ActionTerminate, 0},
		// Break-even without a forecast: hot for 0.06/0.00099 ≈ 60.6 s, warm for 5000 s.
		{"no forecast, briefly idle", IdleVM{SinceStartSeconds: 600, IdleSeconds: 10}, math.NaN(), ActionKeepHot, math.NaN()},
		{"no forecast, idle past break-even", IdleVM{SinceStartSeconds: 600, IdleSeconds: 61}, math.NaN(), ActionStop, math.NaN()},
		{"no forecast, prepaid extends break-even", IdleVM{SinceStartSeconds: 20, IdleSeconds: 61}, -1, ActionKeepHot, math.NaN()},
		{"no forecast, stopped a while", IdleVM{Stopped: true, IdleSeconds: 4999}, math.NaN(), ActionKeepWarm, math.NaN()},
		{"no forecast, stopped long", IdleVM{Stopped: true, IdleSeconds: 5001}, math.NaN(), ActionTerminate, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := ScaleIn(tt.vm, tt.g, toy, 60)
			require.Equal(t, tt.want, d.Action, d.Reason)
			require.NotEmpty(t, d.Reason)
			if !math.IsNaN(tt.cost) {
				require.InDelta(t, tt.cost, chosenCost(d), 1e-9, d.Reason)
			}
		})
	}
}

func chosenCost(d Decision) float64 {
	switch d.Action {
	case ActionKeepHot:
		return d.HotCost
	case ActionStop, ActionKeepWarm:
		return d.WarmCost
	}
	return d.ColdCost
}

func TestScaleInFreeStorage(t *testing.T) {
	t.Parallel()
	free := toy
	free.WarmCostPerSecond = 0
	d := ScaleIn(IdleVM{SinceStartSeconds: 600}, math.Inf(1), free, 60)
	require.Equal(t, ActionTerminate, d.Action)
	require.False(t, math.IsNaN(d.WarmCost))
	d = ScaleIn(IdleVM{Stopped: true, IdleSeconds: 1e9}, math.NaN(), free, 60)
	require.Equal(t, ActionKeepWarm, d.Action, "free storage never breaks even")
}

// With the default catalog, as the gap grows the decision only moves towards cheaper,
// slower states, and it always picks the cheapest feasible option.
func TestScaleInMonotoneAndOptimal(t *testing.T) {
	t.Parallel()
	order := map[Action]int{ActionKeepHot: 0, ActionStop: 1, ActionTerminate: 2}
	for _, it := range catalog.Default().Types {
		prev := 0
		for g := 0.0; g < 200000; g = g*1.05 + 1 {
			d := ScaleIn(IdleVM{SinceStartSeconds: 3600}, g, it, 60)
			require.GreaterOrEqual(t, order[d.Action], prev, "%s at g=%.0f: %s", it.Name, g, d.Reason)
			prev = order[d.Action]
			best := math.Min(d.HotCost, math.Min(d.WarmCost, d.ColdCost))
			require.Equal(t, best, chosenCost(d), "%s at g=%.0f", it.Name, g)
		}
		require.Equal(t, 2, prev, "%s: a long enough gap terminates", it.Name)
	}
}

func FuzzScaleIn(f *testing.F) {
	f.Add(false, 100.0, 10.0, 30.0, 60.0)
	f.Add(true, 0.0, 1e6, math.Inf(1), 0.0)
	types := catalog.Default().Types
	f.Fuzz(func(t *testing.T, stopped bool, sinceStart, idle, g, minBill float64) {
		if math.IsNaN(minBill) || minBill < 0 || minBill > 1e6 {
			return
		}
		it := types[int(math.Abs(sinceStart))%len(types)]
		d := ScaleIn(IdleVM{Stopped: stopped, SinceStartSeconds: sinceStart, IdleSeconds: idle}, g, it, minBill)
		require.NotEmpty(t, d.Reason)
		if stopped {
			require.Contains(t, []Action{ActionKeepWarm, ActionTerminate}, d.Action)
		} else {
			require.Contains(t, []Action{ActionKeepHot, ActionStop, ActionTerminate}, d.Action)
		}
		if !math.IsNaN(g) && g >= 0 {
			require.False(t, math.IsNaN(chosenCost(d)))
			require.False(t, math.IsInf(chosenCost(d), 1), "chose an infeasible option: %s", d.Reason)
		}
	})
}
