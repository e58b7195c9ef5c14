package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// LearningPoint is one workflow of the learning-curve run.
type LearningPoint struct {
	Index  int    `json:"index"`
	Trace  string `json:"trace"`
	Family string `json:"family"`
	Action string `json:"action"`
	Reason string `json:"reason"`
	// Objective is the policy's normalised objective (lower is better); BestFixed that of
	// the best single action in hindsight on the same workflow.
	Objective        float64 `json:"objective"`
	BestFixed        float64 `json:"best_fixed"`
	BestForFamily    float64 `json:"best_for_family"`
	CumulativeRegret float64 `json:"cumulative_regret"`
}

// LearningCurve is the RL policy's learning run (issue 4).
type LearningCurve struct {
	Workflows       int             `json:"workflows"`
	Actions         []string        `json:"actions"`
	BestFixedAction string          `json:"best_fixed_action"`
	Points          []LearningPoint `json:"points"`
	// Last20 are mean objectives over the last 20 workflows.
	Last20Policy        float64 `json:"last20_policy"`
	Last20BestFixed     float64 `json:"last20_best_fixed"`
	Last20BestPerFamily float64 `json:"last20_best_per_family"`
}

// residualPools holds, per family and category, the log-runtime residuals of every
// recorded task around its category's median: the family's observed variation.
type residualPools map[string][]float64

func newResidualPools(trs []*Trace) residualPools {
	logs := map[string][]float64{}
	for _, tr := range trs {
		for _, t := range tr.Tasks {
			if t.Runtime > 0 {
				k := tr.Family + "/" + t.Category
				logs[k] = append(logs[k], math.Log(t.Runtime))
			}
		}
	}
	out := residualPools{}
	keys := make([]string, 0, len(logs))
	for k := range logs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m := median(logs[k])
		for _, l := range logs[k] {
			out[k] = append(out[k], l-m)
		}
	}
	return out
}

// resample copies tr with every runtime multiplied by exp(r/2), r drawn from the family's
// residuals for the task's category: a new run of the same workflow whose tasks vary as
// the family's recorded tasks do, keeping half of each task's own signal (input size).
func (rp residualPools) resample(tr *Trace, rng *rand.Rand, index int) *Trace {
	cp := *tr
	cp.Name = fmt.Sprintf("%s#%d", tr.Name, index)
	cp.Tasks = make([]Task, len(tr.Tasks))
	copy(cp.Tasks, tr.Tasks)
	for i := range cp.Tasks {
		pool := rp[tr.Family+"/"+cp.Tasks[i].Category]
		if len(pool) == 0 || cp.Tasks[i].Runtime <= 0 {
			continue
		}
		cp.Tasks[i].Runtime *= math.Exp(pool[rng.IntN(len(pool))] / 2)
		cp.Tasks[i].Spec.ReplaySeconds = cp.Tasks[i].Runtime
	}
	return &cp
}

// learningCurve runs the LinUCB policy over opts.LearningWorkflows workflows drawn (seeded)
// from all traces with resampled runtimes, the model learning online from each. Every
// action is also executed on every workflow (same latency draws) to find the best fixed
// action in hindsight, overall and per family, and so the regret.
func learningCurve(opts Options, mk planMaker) (*LearningCurve, error) {
	all := append(append([]*Trace(nil), opts.History...), opts.Traces...)
	drawn := learnable(all)
	rng := rand.New(rand.NewPCG(opts.Seed, 0x1ea4))
	pools := newResidualPools(all)
	hs := histories{}
	ag := newAgent()
	n := opts.LearningWorkflows
	lc := &LearningCurve{Workflows: n}
	for _, a := range ag.actions {
		lc.Actions = append(lc.Actions, a.Name)
	}
	objs := make([][]float64, n)
	chosen := make([]int, n)
	fams := make([]string, n)
	for k := range n {
		if step := max(n/10, 1); k > 0 && k%step == 0 {
			opts.progress("learning curve: %d/%d workflows", k, n)
		}
		tr := pools.resample(drawn[rng.IntN(len(drawn))], rng, k)
		h := hs.of(tr.Family)
		dec, err := ag.decide(h.model, tr)
		if err != nil {
			return nil, err
		}
		seed := opts.Seed*7_919 + uint64(k)
		costLB := costLowerBound(tr, opts.Catalog)
		objs[k] = make([]float64, len(ag.actions))
		execs := make([]*execution, len(ag.actions))
		var g errgroup.Group
		g.SetLimit(max(runtime.GOMAXPROCS(0), 1))
		for ai, a := range ag.actions {
			g.Go(func() (err error) {
				execs[ai], err = executePlanned(tr, mk, dec.durations(a), a, opts, seed, foresightLive(h.model, tr, a))
				if err != nil {
					return fmt.Errorf("workflow %d (%s), action %s: %w", k, tr.Name, a.Name, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for ai, ex := range execs {
			ex.makespanLB = makespanLowerBound(tr, opts.Catalog, ex.hotAtStart)
			objs[k][ai] = objective(ex.makespan, ex.cost, ex.makespanLB, costLB)
		}
		ex := execs[dec.action]
		ag.pol.Update(dec.x, dec.action, reward(ex.makespan, ex.cost, ex.makespanLB, costLB))
		if err := learnReplays(ag, dec, tr, opts, mk, costLB); err != nil {
			return nil, err
		}
		h.observe(tr, trueRuntimes(tr))
		chosen[k], fams[k] = dec.action, tr.Family
		lc.Points = append(lc.Points, LearningPoint{
			Index: k, Trace: tr.Name, Family: tr.Family, Action: ag.actions[dec.action].Name,
			Reason: dec.reason, Objective: objs[k][dec.action],
		})
	}
	best := bestAction(objs, func(int) bool { return true })
	lc.BestFixedAction = ag.actions[best].Name
	famBest := map[string]int{}
	for _, f := range fams {
		if _, ok := famBest[f]; !ok {
			famBest[f] = bestAction(objs, func(k int) bool { return fams[k] == f })
		}
	}
	cum := 0.0
	var l20p, l20b, l20f []float64
	for k := range lc.Points {
		pt := &lc.Points[k]
		pt.BestFixed = objs[k][best]
		pt.BestForFamily = objs[k][famBest[fams[k]]]
		cum += pt.Objective - pt.BestFixed
		pt.CumulativeRegret = cum
		if k >= n-20 {
			l20p = append(l20p, pt.Objective)
			l20b = append(l20b, pt.BestFixed)
			l20f = append(l20f, pt.BestForFamily)
		}
	}
	lc.Last20Policy, lc.Last20BestFixed, lc.Last20BestPerFamily = mean(l20p), mean(l20b), mean(l20f)
	return lc, nil
}

// learnReplays teaches the policy the actions it did not play on tr, by the replays the
// predictor makes when a workflow completes (Replayer): built from what the predictor
// holds then (the tasks with their observed runtimes, the predictions it planned with),
// and rewarded against the same bounds as a played action. The replay draws its own
// launch latencies, not the ones the execution above drew.
func learnReplays(ag *agent, dec *decision, tr *Trace, opts Options, mk planMaker, costLB float64) error {
	if len(tr.Tasks) > ReplayMaxTasks {
		return nil
	}
	r := policy.Replay{WorkflowID: tr.Name, Mode: opts.Objective, Tasks: make([]events.Task, len(tr.Tasks)),
		Predictions: make([]events.TaskPrediction, len(tr.Tasks))}
	for i := range tr.Tasks {
		r.Tasks[i] = tr.Tasks[i].Spec
		r.Tasks[i].ReplaySeconds = tr.Tasks[i].Runtime
		r.Predictions[i] = eventPrediction(dec.preds[i])
	}
	var idx []int
	for ai, a := range ag.actions {
		if ai != dec.action {
			r.Actions = append(r.Actions, a)
			idx = append(idx, ai)
		}
	}
	outs, err := replayActions(context.Background(), r, opts.Catalog, mk)
	if err != nil {
		return err
	}
	makespanLB := makespanLowerBound(tr, opts.Catalog, false)
	for k, o := range outs {
		ag.pol.Replayed(dec.x, idx[k], reward(o.MakespanSeconds, o.CostUSD, makespanLB, costLB))
	}
	return nil
}

// LearningMaxTasks bounds the workflows the learning curve draws: each drawn workflow is
// executed once per action (18) and replayed under the others, so a few 10,000-task
// traces among the scored ones would turn minutes into hours. Larger traces are still
// scored; they are only not drawn. When no trace is small enough the curve is skipped,
// and Result.LearningSkipped says why: drawing a 6,000-task trace a hundred times ran
// for over ten minutes on the development machine before it was stopped.
const LearningMaxTasks = 2000

// learnable is the traces the learning curve draws from (see LearningMaxTasks).
func learnable(trs []*Trace) []*Trace {
	var out []*Trace
	for _, tr := range trs {
		if len(tr.Tasks) <= LearningMaxTasks {
			out = append(out, tr)
		}
	}
	return out
}

// learningSkipReason says why no learning curve can be drawn from trs, or "" when one can.
func learningSkipReason(trs []*Trace) string {
	if len(learnable(trs)) > 0 || len(trs) == 0 {
		return ""
	}
	smallest := len(trs[0].Tasks)
	for _, tr := range trs {
		smallest = min(smallest, len(tr.Tasks))
	}
	return fmt.Sprintf("no trace has at most %d tasks (the smallest has %d)", LearningMaxTasks, smallest)
}

// bestAction is the action with the least total objective over the workflows in.
func bestAction(objs [][]float64, in func(int) bool) int {
	best, bestSum := 0, math.Inf(1)
	for a := range objs[0] {
		sum := 0.0
		for k := range objs {
			if in(k) {
				sum += objs[k][a]
			}
		}
		if sum < bestSum {
			best, bestSum = a, sum
		}
	}
	return best
}
