package bench

import (
	"cmp"

	"fmt"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteSummaryTable writes the summary as aligned text (tab-separated columns, for a
// tabwriter) or as Markdown rows when w is not a tabwriter: the same numbers either way.
func WriteSummaryTable(w io.Writer, res *Result) {
	fmt.Fprintln(w, "policy\tmakespan s (geo)\tcost USD (geo)\tmakespan/LB\tcost/LB\tobjective\tforesight/policy makespan\tforesight/policy cost")
	for _, p := range res.Summary.Policies {
		fmt.Fprintf(w, "%s\t%.1f\t%.4f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", p.Policy, p.MakespanSeconds, p.CostUSD,
			p.MakespanOverLowerBound, p.CostOverLowerBound, p.Objective, p.ForesightMakespanRatio, p.ForesightCostRatio)
	}
	if len(res.Summary.Methods) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "method\tmedian APE (geo)\tmedian APE with history\tP90 coverage\tmakespan forecast error\tmakespan error with history\tforesight/method APE")
		for _, m := range res.Summary.Methods {
			fmt.Fprintf(w, "%s\t%.3f\t%s\t%.3f\t%.3f\t%s\t%.3f\n", m.Method, m.MedianAPE, withHistory(m, m.MedianAPEWithHistory),
				m.P90Coverage, m.MakespanForecastError, withHistory(m, m.MakespanErrorWithHistory), m.ForesightAPERatio)
		}
	}
	if res.LearningSkipped != "" {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "learning: skipped: %s\n", res.LearningSkipped)
	}
	if lc := res.Learning; lc != nil && len(lc.Points) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "learning: %d workflows, final cumulative regret %.3f, last-20 mean objective policy %.3f / best fixed (%s) %.3f / best per family %.3f\n",
			lc.Workflows, lc.Points[len(lc.Points)-1].CumulativeRegret, lc.Last20Policy, lc.BestFixedAction,
			lc.Last20BestFixed, lc.Last20BestPerFamily)
	}
}

// WriteReport writes report.md and the plots (PNG and SVG) into dir.
func WriteReport(dir string, res *Result, opts Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	plots, err := writePlots(dir, res)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# foresight bench\n\nSeed %d; %d scored traces, %d history traces; objective %s. "+
		"Every policy ran on the same traces in the same process, in virtual time, through the simulator "+
		"described in cmd/foresight/bench/doc.go (true recorded runtimes; catalog prices, 60 s minimum "+
		"bill, lognormal tier latencies). Foresight and oracle release VMs by %s.\n\n", res.Seed, len(opts.Traces), len(opts.History),
		cmp.Or(opts.Objective, "balanced"), releaseRule(opts))
	writeMarkdown(&b, res)
	if len(plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range plots {
			if strings.HasSuffix(p, ".png") {
				fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func writePlots(dir string, res *Result) ([]string, error) {
	var files []string
	add := func(p *plot.Plot, err error, name string, w, h vg.Length) error {
		if err != nil {
			return err
		}
		f, err := save(p, dir, name, w, h)
		files = append(files, f...)
		return err
	}
	pp, err := plotPolicies(res.Summary.Policies)
	if err := add(pp, err, "policies", 8*vg.Inch, 4*vg.Inch); err != nil {
		return nil, err
	}
	if sc := res.showcase; sc != nil {
		if ex := sc.execs[PolicyForesight]; ex != nil && ex.plan != nil {
			h := vg.Points(float64(120 + 14*(len(ex.plan.vms)+len(ex.sim.vms))))
			if err := add(plotGantt(ex, sc.trace, "Plan vs actual (foresight): "+sc.trace.Name), nil, "gantt", 10*vg.Inch, min(h, 30*vg.Inch)); err != nil {
				return nil, err
			}
		}
		for _, pol := range []string{PolicyForesight, PolicyReactiveWarm, PolicyReactiveCold, PolicyStaticPeak} {
			ex := sc.execs[pol]
			if ex == nil {
				continue
			}
			p, err := plotCapacity(ex, sc.trace, fmt.Sprintf("Demand vs provisioned cores by tier (%s): %s", pol, sc.trace.Name))
			if err := add(p, err, "capacity-"+pol, 10*vg.Inch, 4*vg.Inch); err != nil {
				return nil, err
			}
		}
	}
	if lc := res.Learning; lc != nil && len(lc.Points) > 0 {
		p, err := plotLearning(lc)
		if err := add(p, err, "learning", 8*vg.Inch, 4*vg.Inch); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// releaseRule names how foresight and oracle gave VMs back in this run.
func releaseRule(opts Options) string {
	switch {
	case opts.ScaleIn && opts.CancelUnneededLaunches:
		return "production's look-ahead scale-in, unneeded launches cancelled (what production runs)"
	case opts.ScaleIn:
		return "look-ahead scale-in without cancelling unneeded launches (production before it cancelled them)"
	default:
		return "their plan (released once the plan has nothing left for them)"
	}
}

func writeMarkdown(b *strings.Builder, res *Result) {
	b.WriteString("## Summary (geometric means over traces)\n\n")
	b.WriteString("Objective = ½ ln(makespan/LB) + ½ ln(cost/LB) of the geometric means, lower is better.\n\n")
	b.WriteString("| policy | makespan s | cost USD | makespan / LB | cost / LB | objective | foresight ÷ policy makespan | foresight ÷ policy cost |\n|---|---|---|---|---|---|---|---|\n")
	for _, p := range res.Summary.Policies {
		fmt.Fprintf(b, "| %s | %.1f | %.4f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", p.Policy, p.MakespanSeconds, p.CostUSD,
			p.MakespanOverLowerBound, p.CostOverLowerBound, p.Objective, p.ForesightMakespanRatio, p.ForesightCostRatio)
	}
	writeTargets(b, res)
	b.WriteString("\n## Prediction accuracy (geometric means over traces; P90 coverage is an arithmetic mean)\n\n")
	b.WriteString("At dispatch: from history plus the run's finished siblings. `@submit`: at submission, history only. " +
		"For the point baselines (last-run = Argo, ewma α=0.5 = Dask) \"P90 coverage\" is the share of actuals at or under the estimate. " +
		"History is per family: on a family's first run the baselines have no estimate (0, an APE of 100%) while the model answers from its priors, " +
		"so the with-history column is the comparison that matters.\n\n")
	b.WriteString("| method | median APE | median APE (families with history) | P90 coverage | makespan forecast error | makespan forecast error (families with history) | foresight ÷ method APE |\n|---|---|---|---|---|---|---|\n")
	for _, m := range res.Summary.Methods {
		fmt.Fprintf(b, "| %s | %.3f | %s | %.3f | %.3f | %s | %.3f |\n", m.Method, m.MedianAPE, withHistory(m, m.MedianAPEWithHistory),
			m.P90Coverage, m.MakespanForecastError, withHistory(m, m.MakespanErrorWithHistory), m.ForesightAPERatio)
	}
	if res.LearningSkipped != "" {
		fmt.Fprintf(b, "\n## RL learning curve\n\nSkipped: %s.\n", res.LearningSkipped)
	}
	if lc := res.Learning; lc != nil && len(lc.Points) > 0 {
		last := lc.Points[len(lc.Points)-1]
		fmt.Fprintf(b, "\n## RL learning curve\n\n%d workflows drawn from the traces with resampled runtimes; LinUCB over %d actions. "+
			"Objective = ½ ln(makespan/LB) + ½ ln(cost/LB), lower is better.\n\n", lc.Workflows, len(lc.Actions))
		fmt.Fprintf(b, "| figure | value |\n|---|---|\n| cumulative regret vs best fixed action (%s) after %d | %.3f |\n",
			lc.BestFixedAction, lc.Workflows, last.CumulativeRegret)
		if n := len(lc.Points); n >= 20 {
			fmt.Fprintf(b, "| cumulative regret after %d | %.3f |\n", n/2, lc.Points[n/2-1].CumulativeRegret)
		}
		fmt.Fprintf(b, "| last-20 mean objective: policy | %.3f |\n| last-20: best fixed action | %.3f |\n| last-20: best action per family | %.3f |\n",
			lc.Last20Policy, lc.Last20BestFixed, lc.Last20BestPerFamily)
	}
	if len(res.Skipped) > 0 {
		b.WriteString("\n## Skipped traces\n\n| trace | reason |\n|---|---|\n")
		for _, sk := range res.Skipped {
			fmt.Fprintf(b, "| %s | %s |\n", sk.Trace, strings.ReplaceAll(sk.Reason, "|", "\\|"))
		}
	}
	b.WriteString("\n## Runs\n\n| trace | policy | tasks | makespan s | LB s | ÷ LB | cost USD | LB USD | ÷ LB | re-plans | knobs |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		fmt.Fprintf(b, "| %s | %s | %d | %.1f | %.1f | %.2f | %.4f | %.4f | %.2f | %d | %s |\n", r.Trace, r.Policy, r.Tasks,
			r.MakespanSeconds, r.MakespanLowerBoundSeconds, r.MakespanSeconds/r.MakespanLowerBoundSeconds,
			r.CostUSD, r.CostLowerBoundUSD, r.CostUSD/r.CostLowerBoundUSD, r.Replans, r.Action)
	}
	b.WriteString("\n## Prediction per trace\n\n| trace | method | median APE | P90 coverage | makespan forecast error | family had history |\n|---|---|---|---|---|---|\n")
	for _, r := range res.Prediction {
		fmt.Fprintf(b, "| %s | %s | %.3f | %.3f | %.3f | %v |\n", r.Trace, r.Method, r.MedianAPE, r.P90Coverage,
			r.MakespanForecastError, r.WithHistory)
	}
}

// writeTargets compares the summary with the targets DESIGN.md ("The yardstick") and issue 4
// set; they are the design's numbers, printed beside the measured ones, never tuned to.
func writeTargets(b *strings.Builder, res *Result) {
	pol := map[string]PolicySummary{}
	for _, p := range res.Summary.Policies {
		pol[p.Policy] = p
	}
	met := map[string]MethodSummary{}
	for _, m := range res.Summary.Methods {
		met[m.Method] = m
	}
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	b.WriteString("\n## Against the targets (DESIGN.md, issue 4)\n\n| target | measured | |\n|---|---|---|\n")
	f, ok := pol[PolicyForesight]
	if ok {
		rows := []struct {
			name     string
			mk, cost float64
		}{
			{PolicyReactiveWarm, 1.00, 0.60}, {PolicyStaticPeak, 1.00, 0.35}, {PolicyOracle, 1.10, 1.10},
		}
		for _, r := range rows {
			p, ok := pol[r.name]
			if !ok {
				continue
			}
			fmt.Fprintf(b, "| makespan vs %s ≤ %.2f× | %.3f× | %s |\n", r.name, r.mk, p.ForesightMakespanRatio, mark(p.ForesightMakespanRatio <= r.mk))
			fmt.Fprintf(b, "| cost vs %s ≤ %.2f× | %.3f× | %s |\n", r.name, r.cost, p.ForesightCostRatio, mark(p.ForesightCostRatio <= r.cost))
		}
		fmt.Fprintf(b, "| makespan vs lower bound ≤ 1.15× | %.3f× | %s |\n", f.MakespanOverLowerBound, mark(f.MakespanOverLowerBound <= 1.15))
		fmt.Fprintf(b, "| cost vs lower bound ≤ 2.0× | %.3f× | %s |\n", f.CostOverLowerBound, mark(f.CostOverLowerBound <= 2.0))
	}
	if fm, ok := met[MethodForesight]; ok {
		if fm.TracesWithHistory > 0 {
			fmt.Fprintf(b, "| median APE ≤ 15%% on families with history | %.1f%% | %s |\n", 100*fm.MedianAPEWithHistory, mark(fm.MedianAPEWithHistory <= 0.15))
			for _, base := range []string{MethodLastRun, MethodEWMA} {
				if m, ok := met[base]; ok && m.MedianAPEWithHistory > 0 {
					r := fm.MedianAPEWithHistory / m.MedianAPEWithHistory
					fmt.Fprintf(b, "| median APE (with history) ≥ 30%% below %s | %.0f%% below | %s |\n", base, 100*(1-r), mark(r <= 0.7))
				}
			}
		}
		fmt.Fprintf(b, "| P90 coverage 85–95%% | %.1f%% | %s |\n", 100*fm.P90Coverage, mark(fm.P90Coverage >= 0.85 && fm.P90Coverage <= 0.95))
	}
	if lc := res.Learning; lc != nil && len(lc.Points) >= 20 {
		fmt.Fprintf(b, "| learning: last-20 mean objective ≤ best fixed action | %.3f vs %.3f | %s |\n", lc.Last20Policy, lc.Last20BestFixed, mark(lc.Last20Policy <= lc.Last20BestFixed))
		fmt.Fprintf(b, "| learning: within 5%% of best action per family | %.3f vs %.3f | %s |\n", lc.Last20Policy, lc.Last20BestPerFamily, mark(lc.Last20Policy <= 1.05*lc.Last20BestPerFamily))
		n := len(lc.Points)
		half, full := lc.Points[n/2-1].CumulativeRegret, lc.Points[n-1].CumulativeRegret
		// Sublinear: the second half adds less regret than the first, or none. A policy whose
		// regret falls (it beats the best fixed action) is sublinear whatever the halves.
		fmt.Fprintf(b, "| learning: regret sublinear (second half adds less than the first, or none) | %.3f then %+.3f | %s |\n", half, full-half, mark(full-half < half || full-half <= 0))
	}
}

// withHistory formats a with-history mean, or n/a when no scored family had history.
func withHistory(m MethodSummary, v float64) string {
	if m.TracesWithHistory == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}
