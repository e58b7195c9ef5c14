package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/services/allocator/planner"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// ReplayMaxTasks bounds the workflows Replayer replays: a replay executes the workflow
// once per action, and runs in the predictor's completion handler. Here (2 cores) the
// 17 actions not played take 1.2 s on a 1004-task bwa run, 0.17 s on a 619-task montage
// run and 6 ms on a 58-task one. Larger workflows are declined (policy.ErrNotReplayed)
// and teach the policy only the action played.
const ReplayMaxTasks = LearningMaxTasks

// Replayer returns the predictor's counterfactual replayer (policy.Replayer): the
// simulator this benchmark runs, on catalog cat, so that the policy's replays and the
// benchmark's scores come from the same code. Each action is planned as the allocator
// would have planned it (planner.PlannedDuration on the predictions the workflow was
// planned with) and executed on the runtimes observed, with production's warm pool,
// scale-in and launch cancellation. It does not re-plan on drift: a replay has no
// predictor to revise its predictions. Launch latencies are drawn from a seed derived
// from the workflow's id, so a replay is deterministic.
func Replayer(cat catalog.Catalog) policy.Replayer {
	return func(ctx context.Context, r policy.Replay) ([]policy.Outcome, error) {
		return replayActions(ctx, r, cat, defaultPlanMaker)
	}
}

func replayActions(ctx context.Context, r policy.Replay, cat catalog.Catalog, mk planMaker) ([]policy.Outcome, error) {
	if len(r.Tasks) > ReplayMaxTasks {
		return nil, fmt.Errorf("replay %s: %d tasks, more than %d: %w", r.WorkflowID, len(r.Tasks), ReplayMaxTasks, policy.ErrNotReplayed)
	}
	if len(r.Predictions) != len(r.Tasks) {
		return nil, fmt.Errorf("replay %s: %d predictions for %d tasks", r.WorkflowID, len(r.Predictions), len(r.Tasks))
	}
	tr, err := traceOf(r.WorkflowID, "", r.Tasks)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if _, err := graphOf(tr); err != nil { // built once here, not by every action at once
		return nil, fmt.Errorf("replay: %w", err)
	}
	opts := Options{Catalog: cat, Objective: r.Mode, ScaleIn: true, CancelUnneededLaunches: true, NoReplan: true}
	h := fnv.New64a()
	h.Write([]byte(r.WorkflowID))
	seed := h.Sum64()

	out := make([]policy.Outcome, len(r.Actions))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(runtime.GOMAXPROCS(0), 1))
	for ai, a := range r.Actions {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			dur := make([]float64, len(r.Tasks))
			for i, p := range r.Predictions {
				dur[i] = planner.PlannedDuration(p, a.RuntimeQuantile)
			}
			ex, err := executePlanned(tr, mk, dur, a, opts, seed, nil)
			if err != nil {
				return fmt.Errorf("replay %s under %s: %w", r.WorkflowID, a.Name, err)
			}
			out[ai] = policy.Outcome{MakespanSeconds: ex.makespan, CostUSD: ex.cost}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
