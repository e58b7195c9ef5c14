package bench

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/foresight-run/foresight/pkg/catalog"
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
}

// MethodSummary is a prediction method's geometric means over traces.
type MethodSummary struct {
	Method                string  `json:"method"`
	MedianAPE             float64 `json:"median_ape"`
	P90Coverage           float64 `json:"p90_coverage"`
	MakespanForecastError float64 `json:"makespan_forecast_error"`
	// MedianAPEWithHistory is the geometric mean over traces whose family had history.
	MedianAPEWithHistory float64 `json:"median_ape_with_history"`
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
	// Seed echoes the seed the run used.
	Seed uint64 `json:"seed"`

	// executions keeps the simulator's record of one workflow for the plots.
	showcase *showcase
}

// Run replays every trace under every policy and scores the predictions.
func Run(opts Options) (*Result, error) {
	if len(opts.Traces) == 0 {
		return nil, fmt.Errorf("%w: no traces", ErrBadOptions)
	}
	if len(opts.Catalog.Types) == 0 {
		return nil, fmt.Errorf("%w: empty catalog", ErrBadOptions)
	}
	res := &Result{Seed: opts.Seed}
	for ti, tr := range opts.Traces {
		seed := opts.Seed*1_000_003 + uint64(ti)
		for _, pol := range Policies {
			ex, err := execute(tr, pol, opts, seed)
			if errors.Is(err, errPolicyUnavailable) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", pol, tr.Name, err)
			}
			res.Runs = append(res.Runs, RunRow{
				Trace: tr.Name, Family: tr.Family, Tasks: len(tr.Tasks), Policy: pol,
				MakespanSeconds: ex.makespan, CostUSD: ex.cost,
				MakespanLowerBoundSeconds: makespanLowerBound(tr, opts.Catalog, ex.hotAtStart),
				CostLowerBoundUSD:         costLowerBound(tr, opts.Catalog),
			})
		}
	}
	res.Summary.Policies = summarizePolicies(res.Runs)
	return res, nil
}

// errPolicyUnavailable skips a policy whose cores are not wired in.
var errPolicyUnavailable = errors.New("policy unavailable")

// execution is one simulated run.
type execution struct {
	makespan, cost float64
	hotAtStart     bool
	sim            *sim
}

func execute(tr *Trace, pol string, opts Options, seed uint64) (*execution, error) {
	s := newSim(tr, opts.Catalog, seed)
	var p policy
	switch pol {
	case PolicyReactiveCold, PolicyReactiveWarm, PolicyStaticPeak:
		typ, err := baselineType(tr, opts.Catalog)
		if err != nil {
			return nil, err
		}
		switch pol {
		case PolicyReactiveCold:
			p = &reactive{typ: typ}
		case PolicyReactiveWarm:
			p = &reactive{typ: typ, warm: &warmPool{n: peakVMs(tr, typ, opts.Catalog.Quotas)}}
		default:
			p = &static{typ: typ, n: peakVMs(tr, typ, opts.Catalog.Quotas)}
		}
	default:
		return nil, errPolicyUnavailable
	}
	if err := s.run(p); err != nil {
		return nil, err
	}
	ex := &execution{makespan: s.makespan(), cost: s.cost(), sim: s}
	for _, v := range s.vms {
		if !math.IsNaN(v.hotFrom) && v.hotFrom <= 0 {
			ex.hotAtStart = true
		}
	}
	return ex, nil
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
