package allocator

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/testenv"
)

func wideDemand(n int) events.DemandPredicted {
	dp := events.DemandPredicted{WorkflowID: "wf", Action: events.PolicyAction{RuntimeQuantile: 0.5, MemoryHeadroom: 1.1}}
	for i := range n {
		id := fmt.Sprintf("t%d", i)
		dp.Graph.Tasks = append(dp.Graph.Tasks, events.GraphTask{Task: events.Task{ID: id, CPU: 1, MemoryBytes: 1 << 30}, EstimateSeconds: 300})
		dp.Predictions = append(dp.Predictions, events.TaskPrediction{TaskID: id, P50Seconds: 300, P90Seconds: 330, P99Seconds: 360})
	}
	dp.Graph.TotalWorkCoreSeconds = float64(n) * 300
	return dp
}

// A prediction that is a prior is planned at least at its P90 whatever quantile the policy
// chose; an evidence-based one at the policy's.
func TestPriorsArePlannedCautiously(t *testing.T) {
	t.Parallel()
	plan := CatalogPlanner(catalog.Default())
	makespan := func(source string) float64 {
		dp := wideDemand(1)
		dp.Predictions[0].P90Seconds, dp.Predictions[0].P99Seconds, dp.Predictions[0].Source = 3000, 6000, source
		p, err := plan(PlanRequest{Demand: dp, Version: 1})
		require.NoError(t, err)
		return p.PredictedMakespanSeconds
	}
	history, prior := makespan("history"), makespan("global-prior")
	require.Less(t, history, 1000.0, "planned at the policy's P50 (300 s)")
	require.Greater(t, prior, 3000.0, "planned at the prior's P90 (3000 s)")
	for _, src := range []string{"family-prior", "run-prior"} {
		require.Equal(t, prior, makespan(src), src)
	}
}

// TestPlanRoutesAroundOpenBreakers: with the breaker of the type the plan would pick open,
// no VM of that type is requested, and the plan says why.
func TestPlanRoutesAroundOpenBreakers(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	plan := CatalogPlanner(cat)
	free, err := plan(PlanRequest{Demand: wideDemand(8), Version: 1})
	require.NoError(t, err)
	require.NotEmpty(t, free.VMRequests)
	chosen := free.VMRequests[0].InstanceType

	avoided, err := plan(PlanRequest{Demand: wideDemand(8), Version: 1, Avoid: []Avoid{{InstanceType: chosen, Tier: events.TierCold}}})
	require.NoError(t, err)
	require.NotEmpty(t, avoided.VMRequests)
	for _, r := range avoided.VMRequests {
		require.NotEqual(t, chosen, r.InstanceType, "the open breaker's type is not launched")
	}
	require.Contains(t, avoided.Reason, "circuit breaker open")
}

// TestOpenBreakersAreRead: the pool manager's recorded breaker states become scopes to
// avoid; a control breaker does not bar launches and a provider breaker bars everything.
func TestOpenBreakersAreRead(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Database(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO provider_breakers (scope, tier, instance_type, state, updated_at) VALUES
		('cold/m7i.large', 'cold', 'm7i.large', 'open', now()), ('warm/c7i.large', 'warm', 'c7i.large', 'closed', now()),
		('control', 'control', '', 'open', now()), ('provider', 'provider', '', 'open', now())`)
	require.NoError(t, err)
	var got []Avoid
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		got, err = openBreakers(ctx, tx)
		return err
	}))
	require.ElementsMatch(t, []Avoid{{InstanceType: "m7i.large", Tier: "cold"}, {Tier: "control"}, {}}, got)
}
