package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/poolmanager/pool"
	"github.com/foresight-run/foresight/services/predictor/model"
	"github.com/foresight-run/foresight/services/predictor/policy"
)

// Policy names, as they appear in the output.
const (
	PolicyForesight    = "foresight"
	PolicyReactiveCold = "reactive-cold"
	PolicyReactiveWarm = "reactive-warm"
	PolicyStaticPeak   = "static-peak"
	PolicyOracle       = "oracle"
)

// Policies lists every policy in report order.
var Policies = []string{PolicyForesight, PolicyReactiveCold, PolicyReactiveWarm, PolicyStaticPeak, PolicyOracle}

// Prediction method names.
const (
	MethodForesight = "foresight"
	MethodLastRun   = "last-run"
	MethodEWMA      = "ewma"
	// SubmitSuffix marks the same method's prediction made at submission, with no siblings.
	SubmitSuffix = "@submit"
	// MethodHindsight is not a predictor but a yardstick: each stage's own median (and
	// 90th percentile) in the scored run itself, which no method can know at dispatch.
	// Its error is what remains when every task is predicted by a constant per stage.
	MethodHindsight = "hindsight-stage"
)

// Methods lists the prediction methods at dispatch, in report order.
var Methods = []string{MethodForesight, MethodLastRun, MethodEWMA}

// ErrBadOptions marks invalid options.
var ErrBadOptions = errors.New("invalid bench options")

// Options configure a bench run.
type Options struct {
	// Traces are scored; History traces are only observed first. Both are loaded with
	// LoadDir.
	Traces  []*Trace
	History []*Trace
	Catalog catalog.Catalog
	Seed    uint64
	// LearningWorkflows is the length of the learning-curve run; 0 skips it.
	LearningWorkflows int
	// Objective is the planning mode for foresight and oracle (fastest, cheapest,
	// balanced); empty means balanced.
	Objective string

	// NoReplan makes foresight and oracle follow their first plan to the end.
	NoReplan bool
	// NoWarmPool starts foresight and oracle with no warm pool (reactive-warm keeps its own);
	// by default the pool manager keeps one sized from the workflow's forecast first wave.
	NoWarmPool bool

	// ScaleIn makes foresight and oracle release VMs by production's look-ahead scale-in
	// (the allocator's idle announcements and pool.ScaleIn) instead of as soon as their plan
	// has nothing left for a VM (see doc.go). The CLI turns it on, with
	// CancelUnneededLaunches, to measure what production runs.
	ScaleIn bool
	// CancelUnneededLaunches, with ScaleIn, is production's vm-unneeded: a plan VM whose
	// planned tasks have all started elsewhere is not launched, and one still booting is
	// cancelled (not billed), at the same events the allocator announces idle VMs.
	CancelUnneededLaunches bool

	// Progress, when set, gets a line as each trace is scored and at every tenth of the
	// learning curve, so a long run over many traces shows that it moves.
	Progress io.Writer

	// planMaker replaces the planner in tests.
	planMaker planMaker
}

// progress writes one progress line when opts.Progress is set.
func (opts Options) progress(format string, args ...any) {
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, format+"\n", args...)
	}
}

// RunRow is one policy's result on one trace.
type RunRow struct {
	Trace                     string  `json:"trace"`
	Family                    string  `json:"family"`
	Tasks                     int     `json:"tasks"`
	Policy                    string  `json:"policy"`
	MakespanSeconds           float64 `json:"makespan_seconds"`
	CostUSD                   float64 `json:"cost_usd"`
	MakespanLowerBoundSeconds float64 `json:"makespan_lower_bound_seconds"`
	CostLowerBoundUSD         float64 `json:"cost_lower_bound_usd"`
	// Replans counts the re-plans drift triggered (foresight and oracle).
	Replans int `json:"replans,omitempty"`
	// Action and Reason are the knobs the policy chose for foresight's run, and why
	// (what demand-predicted reports in production).
	Action string `json:"action,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// PredictionRow is one method's prediction accuracy on one trace.
type PredictionRow struct {
	Trace  string `json:"trace"`
	Method string `json:"method"`
	// MedianAPE is the median over tasks of |predicted − actual| / actual.
	MedianAPE float64 `json:"median_ape"`
	// P90Coverage is the share of tasks whose actual runtime is at most the P90 prediction.
	P90Coverage float64 `json:"p90_coverage"`
	// MakespanForecastError is |CP(predicted) − CP(actual)| / CP(actual).
	MakespanForecastError float64 `json:"makespan_forecast_error"`
	// WithHistory says whether the trace's family had been observed before.
	WithHistory bool `json:"with_history"`
}

// PolicySummary is a policy's geometric means over traces.
type PolicySummary struct {
	Policy          string  `json:"policy"`
	MakespanSeconds float64 `json:"makespan_seconds"`
	CostUSD         float64 `json:"cost_usd"`
	// MakespanOverLowerBound and CostOverLowerBound are geometric means of result / bound.
	MakespanOverLowerBound float64 `json:"makespan_over_lower_bound"`
	CostOverLowerBound     float64 `json:"cost_over_lower_bound"`
	// ForesightMakespanRatio and ForesightCostRatio are geometric means of foresight's
	// result divided by this policy's, as DESIGN.md's target table reads (≤ 1 is better).
	ForesightMakespanRatio float64 `json:"foresight_makespan_ratio"`
	ForesightCostRatio     float64 `json:"foresight_cost_ratio"`
	// Objective is the balanced objective the learning run minimises, ½ ln(makespan/LB) +
	// ½ ln(cost/LB), averaged over traces (the log of the geometric means); lower is better.
	Objective float64 `json:"objective"`
}

// MethodSummary is a prediction method's geometric means over traces.
type MethodSummary struct {
	Method                string  `json:"method"`
	MedianAPE             float64 `json:"median_ape"`
	P90Coverage           float64 `json:"p90_coverage"`
	MakespanForecastError float64 `json:"makespan_forecast_error"`
	// MedianAPEWithHistory and MakespanErrorWithHistory are geometric means over the
	// TracesWithHistory traces whose family had history (0 when there were none).
	MedianAPEWithHistory     float64 `json:"median_ape_with_history"`
	MakespanErrorWithHistory float64 `json:"makespan_forecast_error_with_history"`
	TracesWithHistory        int     `json:"traces_with_history"`
	// ForesightAPERatio is foresight's median APE over this method's (geometric mean).
	ForesightAPERatio float64 `json:"foresight_ape_ratio"`
}

// Summary aggregates runs and predictions.
type Summary struct {
	Policies []PolicySummary `json:"policies"`
	Methods  []MethodSummary `json:"methods"`
}

// Result is everything a bench run measured.
type Result struct {
	Runs       []RunRow        `json:"runs"`
	Prediction []PredictionRow `json:"prediction"`
	Summary    Summary         `json:"summary"`
	Learning   *LearningCurve  `json:"learning,omitempty"`
	// LearningSkipped says why the learning curve was asked for but not run.
	LearningSkipped string `json:"learning_skipped,omitempty"`
	// Skipped lists traces that could not be replayed (a task no instance type fits, a
	// planner error), with the reason; the rest of the run goes on without them.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Seed echoes the seed the run used.
	Seed uint64 `json:"seed"`

	// executions keeps the simulator's record of one workflow for the plots.
	showcase *showcase
}

// Run replays every trace under every policy and scores the predictions. History traces
// are observed first; each scored trace joins history only after it is scored.
func Run(opts Options) (*Result, error) {
	if len(opts.Traces) == 0 {
		return nil, fmt.Errorf("%w: no traces", ErrBadOptions)
	}
	if len(opts.Catalog.Types) == 0 {
		return nil, fmt.Errorf("%w: empty catalog", ErrBadOptions)
	}
	mk := opts.planMaker
	if mk == nil {
		mk = defaultPlanMaker
	}
	res := &Result{Seed: opts.Seed}
	hs := histories{}
	// A run that is also scored never joins history first: it would be predicted from its
	// own runtimes. It joins after it is scored, like every scored trace.
	scored := make(map[string]bool, len(opts.Traces))
	for _, tr := range opts.Traces {
		scored[tr.Digest] = true
	}
	for _, tr := range opts.History {
		if tr.Digest != "" && scored[tr.Digest] {
			continue
		}
		hs.of(tr.Family).observe(tr, trueRuntimes(tr))
	}
	ag := newAgent()
	show := pickShowcase(opts.Traces)
	var replayed []*Trace
	for ti, tr := range opts.Traces {
		seed := opts.Seed*1_000_003 + uint64(ti)
		h := hs.of(tr.Family)
		execs, dec, err := replay(tr, h, ag, mk, opts, seed)
		if err != nil {
			res.Skipped = append(res.Skipped, Skipped{Trace: tr.Name, Reason: err.Error()})
			continue
		}
		replayed = append(replayed, tr)
		costLB := costLowerBound(tr, opts.Catalog)
		for _, pol := range Policies {
			ex, ok := execs[pol]
			if !ok {
				continue
			}
			ex.makespanLB = makespanLowerBound(tr, opts.Catalog, ex.hotAtStart)
			row := RunRow{
				Trace: tr.Name, Family: tr.Family, Tasks: len(tr.Tasks), Policy: pol,
				MakespanSeconds: ex.makespan, CostUSD: ex.cost,
				MakespanLowerBoundSeconds: ex.makespanLB, CostLowerBoundUSD: costLB, Replans: ex.replans,
			}
			if pol == PolicyForesight && dec != nil {
				row.Action, row.Reason = ag.actions[dec.action].Name, dec.reason
			}
			res.Runs = append(res.Runs, row)
		}
		// Accuracy is measured at the dispatches of the run foresight executed (or, without
		// a planner, of the static pool, which dispatches every task as soon as it is ready).
		disp := execs[PolicyForesight]
		if disp == nil {
			disp = execs[PolicyStaticPeak]
		}
		res.Prediction = append(res.Prediction, scorePredictions(h, tr, disp.sim.start, disp.sim.finish)...)
		if dec != nil {
			f := execs[PolicyForesight]
			ag.pol.Update(dec.x, dec.action, reward(f.makespan, f.cost, f.makespanLB, costLB))
			if err := learnReplays(ag, dec, tr, opts, mk, costLB); err != nil {
				return nil, fmt.Errorf("%s: %w", tr.Name, err)
			}
		}
		opts.progress("scored %d/%d %s (%d tasks)", ti+1, len(opts.Traces), tr.Name, len(tr.Tasks))
		if res.showcase == nil || tr == show {
			res.showcase = &showcase{trace: tr, execs: execs}
		}
		h.observe(tr, trueRuntimes(tr))
	}
	if len(replayed) == 0 {
		return nil, fmt.Errorf("%w: no trace could be replayed (first: %s: %s)", ErrBadOptions, res.Skipped[0].Trace, res.Skipped[0].Reason)
	}
	res.Summary.Policies = summarizePolicies(res.Runs)
	res.Summary.Methods = summarizeMethods(res.Prediction)
	if opts.LearningWorkflows > 0 && mk != nil {
		lo := opts
		lo.Traces = replayed
		if res.LearningSkipped = learningSkipReason(append(append([]*Trace(nil), lo.History...), replayed...)); res.LearningSkipped != "" {
			return res, nil
		}
		lc, err := learningCurve(lo, mk)
		if err != nil {
			return nil, fmt.Errorf("learning curve: %w", err)
		}
		res.Learning = lc
	}
	return res, nil
}

// replay runs every policy on one trace: foresight (deciding with the policy from the
// family's history) and oracle through the planner, then the baselines.
func replay(tr *Trace, h *history, ag *agent, mk planMaker, opts Options, seed uint64) (map[string]*execution, *decision, error) {
	execs := map[string]*execution{}
	var dec *decision
	if mk != nil {
		var err error
		if dec, err = ag.decide(h.model, tr); err != nil {
			return nil, nil, err
		}
		act := ag.actions[dec.action]
		if execs[PolicyForesight], err = executePlanned(tr, mk, dec.durations(act), act, opts, seed, foresightLive(h.model, tr, act)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", PolicyForesight, err)
		}
		if execs[PolicyOracle], err = executePlanned(tr, mk, trueRuntimes(tr), oracleAction(), opts, seed, oracleLive(tr)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", PolicyOracle, err)
		}
	}
	for _, pol := range []string{PolicyReactiveCold, PolicyReactiveWarm, PolicyStaticPeak} {
		ex, err := executeBaseline(tr, pol, opts, seed)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pol, err)
		}
		execs[pol] = ex
	}
	return execs, dec, nil
}

// oracleAction is the oracle's knobs: runtimes are exact, memory is the trace's, and VMs
// are warmed 30 s ahead against launch-latency noise (the safe default's setting).
func oracleAction() policy.Action {
	return policy.Action{Name: "oracle", RuntimeQuantile: 0.5, MemoryHeadroom: 1, WarmAheadSeconds: 30}
}

// execution is one simulated run.
type execution struct {
	makespan, cost float64
	makespanLB     float64
	hotAtStart     bool
	replans        int
	// scaleIns counts the pool manager's scale-in decisions (foresight and oracle).
	scaleIns  map[pool.Action]int
	planSimOf []int
	sim       *sim
	plan      *execPlan
}

func finishExecution(s *sim) *execution {
	ex := &execution{makespan: s.makespan(), cost: s.cost(), sim: s}
	for _, v := range s.vms {
		if !math.IsNaN(v.hotFrom) && v.hotFrom <= 0 {
			ex.hotAtStart = true
		}
	}
	return ex
}

// live is how a planned execution adapts while it runs: dispatched and finished tasks go
// to the predictor's run overlay (with their virtual times) and re-plans use its
// estimates at the instant they are made. nil: follow the first plan to the end.
type live struct {
	started func(task int, at float64)
	observe func(task int, at float64)
	durNow  func(task int, now float64) float64
}

// foresightLive is the production loop: the model's run overlay hears every dispatch and
// finish, as the live predictor does, and re-plans plan at the action's quantile.
func foresightLive(m *model.Model, tr *Trace, a policy.Action) *live {
	run := m.NewRun()
	return &live{
		started: func(i int, at float64) { run.StartedAt(query(tr, &tr.Tasks[i]), at) },
		observe: func(i int, at float64) { run.ObserveAt(observation(tr, &tr.Tasks[i], tr.Tasks[i].Runtime), at) },
		durNow: func(i int, now float64) float64 {
			return planAt(run.PredictAt(query(tr, &tr.Tasks[i]), now), a)
		},
	}
}

// oracleLive re-plans on true runtimes (drift then only comes from launch latencies).
func oracleLive(tr *Trace) *live {
	return &live{durNow: func(i int, _ float64) float64 { return tr.Tasks[i].Runtime }}
}

// executePlanned plans on dur with the knobs of a and executes the plan on true runtimes,
// re-planning on drift when lv is given.
//
// Unless opts.NoWarmPool, the workflow starts with a warm pool sized as the pool manager
// sizes its standing warm targets from the predictor's forecast: one stopped VM for every
// VM the plan would otherwise launch cold in its first wave (requested before that type's
// mean cold latency has passed, so its latency delays the start). Like reactive-warm's
// pool, every member costs storage from submission until it is started or the workflow ends.
func executePlanned(tr *Trace, mk planMaker, dur []float64, a policy.Action, opts Options, seed uint64, lv *live) (*execution, error) {
	s := newSim(tr, opts.Catalog, seed)
	durFn := func(i int) float64 { return dur[i] }
	p, err := mk(s, a, opts.Objective, durFn)
	if err != nil {
		return nil, err
	}
	if !opts.NoWarmPool {
		wp := &plannedWarmPool{}
		for _, v := range p.vms {
			if v.tier == events.TierCold && v.resumes < 0 && v.requestAt < v.typ.Cold.MeanSeconds {
				wp.types = append(wp.types, v.typ)
			}
		}
		if len(wp.types) > 0 {
			wp.claimed = make([]bool, len(wp.types))
			s.warm = wp
			if p, err = mk(s, a, opts.Objective, durFn); err != nil {
				return nil, err
			}
		}
	}
	// The allocator writes each task's upward rank as its dispatch priority once, from the
	// durations the workflow was first planned with.
	an, err := analyze(tr, dur)
	if err != nil {
		return nil, err
	}
	e, err := newPlanExecutor(p, tr, an.UpwardRank)
	if err != nil {
		return nil, err
	}
	e.scaleIn = opts.ScaleIn
	e.cancelUnneeded = opts.ScaleIn && opts.CancelUnneededLaunches
	if lv != nil && !opts.NoReplan {
		e.adapt = &adaptation{started: lv.started, observe: lv.observe, replan: func(s *sim) (*execPlan, error) {
			return mk(s, a, opts.Objective, func(i int) float64 { return lv.durNow(i, s.now) })
		}}
	}
	if err := s.run(e); err != nil {
		return nil, err
	}
	ex := finishExecution(s)
	ex.plan = p
	ex.replans = e.replans
	ex.scaleIns = e.scaleIns
	ex.planSimOf = e.firstSimOf
	if ex.planSimOf == nil {
		ex.planSimOf = e.simOf
	}
	return ex, nil
}

func executeBaseline(tr *Trace, pol string, opts Options, seed uint64) (*execution, error) {
	s := newSim(tr, opts.Catalog, seed)
	typ, err := baselineType(tr, opts.Catalog)
	if err != nil {
		return nil, err
	}
	var p controller
	switch pol {
	case PolicyReactiveCold:
		p = &reactive{typ: typ}
	case PolicyReactiveWarm:
		p = &reactive{typ: typ, warm: &warmPool{n: peakVMs(tr, typ, opts.Catalog.Quotas)}}
	case PolicyStaticPeak:
		p = &static{typ: typ, n: peakVMs(tr, typ, opts.Catalog.Quotas)}
	default:
		return nil, fmt.Errorf("%w: unknown policy %q", ErrBadOptions, pol)
	}
	if err := s.run(p); err != nil {
		return nil, err
	}
	return finishExecution(s), nil
}

// geomean is the geometric mean of xs, with values floored at 1e-9 so a zero error does
// not erase the rest.
func geomean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += math.Log(max(x, 1e-9))
	}
	return math.Exp(s / float64(len(xs)))
}

func summarizePolicies(runs []RunRow) []PolicySummary {
	byTrace := map[string]map[string]RunRow{}
	for _, r := range runs {
		if byTrace[r.Trace] == nil {
			byTrace[r.Trace] = map[string]RunRow{}
		}
		byTrace[r.Trace][r.Policy] = r
	}
	traces := make([]string, 0, len(byTrace))
	for t := range byTrace {
		traces = append(traces, t)
	}
	sort.Strings(traces)
	var out []PolicySummary
	for _, pol := range Policies {
		var mk, co, mkLB, coLB, fmk, fco []float64
		for _, t := range traces {
			r, ok := byTrace[t][pol]
			if !ok {
				continue
			}
			mk = append(mk, r.MakespanSeconds)
			co = append(co, r.CostUSD)
			mkLB = append(mkLB, r.MakespanSeconds/r.MakespanLowerBoundSeconds)
			coLB = append(coLB, r.CostUSD/r.CostLowerBoundUSD)
			if f, ok := byTrace[t][PolicyForesight]; ok {
				fmk = append(fmk, f.MakespanSeconds/r.MakespanSeconds)
				fco = append(fco, f.CostUSD/r.CostUSD)
			}
		}
		if len(mk) == 0 {
			continue
		}
		out = append(out, PolicySummary{
			Policy: pol, MakespanSeconds: geomean(mk), CostUSD: geomean(co),
			MakespanOverLowerBound: geomean(mkLB), CostOverLowerBound: geomean(coLB),
			ForesightMakespanRatio: nanIfEmpty(fmk), ForesightCostRatio: nanIfEmpty(fco),
			Objective: objective(geomean(mkLB), geomean(coLB), 1, 1),
		})
	}
	return out
}

func nanIfEmpty(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return geomean(xs)
}
