package planner

import (
	"testing"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/stretchr/testify/require"
)

func TestCost(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	typ, ok := cat.Type("m7i.xlarge")
	require.True(t, ok)
	run := func(tier string, req, ready, rel float64, resumes int) VM {
		return VM{InstanceType: typ.Name, Tier: tier, RequestAt: req, ReadyAt: ready, ReleaseAt: rel, Resumes: resumes}
	}
	tests := []struct {
		name string
		vms  []VM
		want float64
	}{
		{name: "short run pays the minimum", vms: []VM{run(events.TierCold, 0, 60, 90, -1)}, want: 60 * typ.PricePerSecond},
		{name: "long run per second from ready", vms: []VM{run(events.TierCold, 0, 60, 460, -1)}, want: 400 * typ.PricePerSecond},
		{name: "hot claim", vms: []VM{run(events.TierHot, 10, 10, 200, -1)}, want: 190 * typ.PricePerSecond},
		{name: "stopped then resumed", vms: []VM{run(events.TierCold, 0, 60, 200, -1), run(events.TierWarm, 1000, 1035, 1100, 0)},
			want: 140*typ.PricePerSecond + 800*typ.WarmCostPerSecond + 65*typ.PricePerSecond},
		{name: "unknown type is free", vms: []VM{{InstanceType: "nope", ReadyAt: 0, ReleaseAt: 100, Resumes: -1}}, want: 0},
		{name: "nothing", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.want, Cost(Plan{VMs: tt.vms}, cat), 1e-12)
		})
	}
}

func TestObjectiveFor(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	p := cheapestCorePrice(cat)
	require.Positive(t, p)
	tests := []struct {
		name     string
		mode     string
		lambda   *float64
		deadline *float64
		budget   *float64
		check    func(t *testing.T, o Objective)
	}{
		{name: "balanced scales with parallelism", mode: ModeBalanced, check: func(t *testing.T, o Objective) {
			require.Zero(t, o.Lambda)
			require.InDelta(t, balancedLambdaCores*p, o.LambdaPerParallelCore, 1e-15)
			require.Equal(t, ModeBalanced, o.Mode)
		}},
		{name: "unknown mode is balanced", mode: "whatever", check: func(t *testing.T, o Objective) {
			require.Equal(t, ModeBalanced, o.Mode)
		}},
		{name: "fastest never waits", mode: ModeFastest, check: func(t *testing.T, o Objective) {
			require.Greater(t, o.Lambda, 1000*p)
			require.GreaterOrEqual(t, o.SlackReserve, 1e3)
		}},
		{name: "cheapest barely values time", mode: ModeCheapest, check: func(t *testing.T, o Objective) {
			require.Less(t, o.Lambda, p)
			require.Zero(t, o.LambdaPerParallelCore)
		}},
		{name: "explicit lambda wins", mode: ModeBalanced, lambda: f64(0.5), check: func(t *testing.T, o Objective) {
			require.Equal(t, 0.5, o.Lambda)
			require.Zero(t, o.LambdaPerParallelCore)
		}},
		{name: "deadline and budget", mode: ModeCheapest, deadline: f64(600), budget: f64(2), check: func(t *testing.T, o Objective) {
			require.Equal(t, 600.0, o.DeadlineSeconds)
			require.Positive(t, o.DeadlinePenalty)
			require.Equal(t, 2.0, o.BudgetUSD)
			require.Positive(t, o.BudgetPenalty)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, ObjectiveFor(tt.mode, tt.lambda, tt.deadline, tt.budget, 1000, cat))
		})
	}
}
