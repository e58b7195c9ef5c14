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
	fmt.Fprintln(w, "policy\tmakespan s (geo)\tcost USD (geo)\tmakespan/LB\tcost/LB\tforesight/policy makespan\tforesight/policy cost")
	for _, p := range res.Summary.Policies {
		fmt.Fprintf(w, "%s\t%.1f\t%.4f\t%.3f\t%.3f\t%.3f\t%.3f\n", p.Policy, p.MakespanSeconds, p.CostUSD,
			p.MakespanOverLowerBound, p.CostOverLowerBound, p.ForesightMakespanRatio, p.ForesightCostRatio)
	}
	if len(res.Summary.Methods) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "method\tmedian APE (geo)\tmedian APE with history\tP90 coverage\tmakespan forecast error\tforesight/method APE")
		for _, m := range res.Summary.Methods {
			fmt.Fprintf(w, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", m.Method, m.MedianAPE, m.MedianAPEWithHistory,
				m.P90Coverage, m.MakespanForecastError, m.ForesightAPERatio)
		}
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
		"bill, lognormal tier latencies).\n\n", res.Seed, len(opts.Traces), len(opts.History), cmp.Or(opts.Objective, "balanced"))
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
			h := vg.Points(float64(120 + 14*len(ex.plan.vms)))
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

func writeMarkdown(b *strings.Builder, res *Result) {
	b.WriteString("## Summary (geometric means over traces)\n\n")
	b.WriteString("| policy | makespan s | cost USD | makespan / LB | cost / LB | foresight ÷ policy makespan | foresight ÷ policy cost |\n|---|---|---|---|---|---|---|\n")
	for _, p := range res.Summary.Policies {
		fmt.Fprintf(b, "| %s | %.1f | %.4f | %.3f | %.3f | %.3f | %.3f |\n", p.Policy, p.MakespanSeconds, p.CostUSD,
			p.MakespanOverLowerBound, p.CostOverLowerBound, p.ForesightMakespanRatio, p.ForesightCostRatio)
	}
	b.WriteString("\n## Prediction accuracy (geometric means over traces; P90 coverage is an arithmetic mean)\n\n")
	b.WriteString("At dispatch: from history plus the run's finished siblings. `@submit`: at submission, history only. " +
		"For the point baselines (last-run = Argo, ewma α=0.5 = Dask) \"P90 coverage\" is the share of actuals at or under the estimate.\n\n")
	b.WriteString("| method | median APE | median APE (families with history) | P90 coverage | makespan forecast error | foresight ÷ method APE |\n|---|---|---|---|---|---|\n")
	for _, m := range res.Summary.Methods {
		fmt.Fprintf(b, "| %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", m.Method, m.MedianAPE, m.MedianAPEWithHistory,
			m.P90Coverage, m.MakespanForecastError, m.ForesightAPERatio)
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
	b.WriteString("\n## Runs\n\n| trace | policy | tasks | makespan s | LB s | cost USD | LB USD |\n|---|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		fmt.Fprintf(b, "| %s | %s | %d | %.1f | %.1f | %.4f | %.4f |\n", r.Trace, r.Policy, r.Tasks,
			r.MakespanSeconds, r.MakespanLowerBoundSeconds, r.CostUSD, r.CostLowerBoundUSD)
	}
	b.WriteString("\n## Prediction per trace\n\n| trace | method | median APE | P90 coverage | makespan forecast error | family had history |\n|---|---|---|---|---|---|\n")
	for _, r := range res.Prediction {
		fmt.Fprintf(b, "| %s | %s | %.3f | %.3f | %.3f | %v |\n", r.Trace, r.Method, r.MedianAPE, r.P90Coverage,
			r.MakespanForecastError, r.WithHistory)
	}
}
