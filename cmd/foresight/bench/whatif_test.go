package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/allocator/planner"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// replayOf is the replay the predictor builds for tr when it completes, had it been
// predicted at P50 = the true runtime, P90 = 1.5×, P99 = 2×.
func replayOf(tr *Trace) policy.Replay {
	r := policy.Replay{WorkflowID: tr.Name, Mode: "balanced", Actions: policy.DefaultActions()}
	for _, t := range tr.Tasks {
		spec := t.Spec
		spec.ReplaySeconds = t.Runtime
		r.Tasks = append(r.Tasks, spec)
		r.Predictions = append(r.Predictions, events.TaskPrediction{TaskID: t.ID, P50Seconds: t.Runtime,
			P90Seconds: 1.5 * t.Runtime, P99Seconds: 2 * t.Runtime, Source: "history"})
	}
	return r
}

// TestReplayIsTheBenchExecution: the predictor's replay of an action is the benchmark's
// execution of it (production's options, no re-plans, latencies seeded by the workflow's
// id), and runs the same twice.
func TestReplayIsTheBenchExecution(t *testing.T) {
	t.Parallel()
	trs, _, err := LoadDir("testdata/real")
	require.NoError(t, err)
	tr := trs[0]
	cat := deterministicCatalog()
	r := replayOf(tr)
	outs, err := Replayer(cat)(context.Background(), r)
	require.NoError(t, err)
	require.Len(t, outs, len(r.Actions))
	again, err := Replayer(cat)(context.Background(), r)
	require.NoError(t, err)
	require.Equal(t, outs, again, "a redelivered completion replays the same")

	h := fnv.New64a()
	h.Write([]byte(tr.Name))
	opts := Options{Catalog: cat, Objective: "balanced", ScaleIn: true, CancelUnneededLaunches: true, NoReplan: true}
	distinct := map[policy.Outcome]bool{}
	for i, a := range r.Actions {
		dur := make([]float64, len(tr.Tasks))
		for k, p := range r.Predictions {
			dur[k] = planner.PlannedDuration(p, a.RuntimeQuantile)
		}
		ex, err := executePlanned(tr, defaultPlanMaker, dur, a, opts, h.Sum64(), nil)
		require.NoError(t, err)
		require.Equal(t, policy.Outcome{MakespanSeconds: ex.makespan, CostUSD: ex.cost}, outs[i], a.Name)
		require.GreaterOrEqual(t, outs[i].MakespanSeconds, criticalPath(tr, trueRuntimes(tr))-1e-9, a.Name)
		distinct[outs[i]] = true
	}
	require.Greater(t, len(distinct), 1, "the knobs change what a replay estimates")
}

func TestReplayRefusesWhatItCannotReplay(t *testing.T) {
	t.Parallel()
	trs, _, err := LoadDir("testdata/real")
	require.NoError(t, err)
	r := replayOf(trs[0])
	r.Predictions = r.Predictions[1:]
	_, err = Replayer(deterministicCatalog())(context.Background(), r)
	require.ErrorContains(t, err, "predictions")

	big := policy.Replay{WorkflowID: "big", Actions: policy.DefaultActions()}
	for i := range ReplayMaxTasks + 1 {
		big.Tasks = append(big.Tasks, events.Task{ID: fmt.Sprint(i), CPU: 1})
	}
	big.Predictions = make([]events.TaskPrediction, len(big.Tasks))
	_, err = Replayer(deterministicCatalog())(context.Background(), big)
	require.ErrorIs(t, err, policy.ErrNotReplayed)
}
