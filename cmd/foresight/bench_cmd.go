package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/foresight-run/foresight/cmd/foresight/bench"
	"github.com/foresight-run/foresight/pkg/catalog"
)

// runBench is `foresight bench`: it replays WfFormat traces through the production cores
// and the baselines in virtual time and prints the scoreboard. It returns the exit code.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	traces := fs.String("traces", "", "directory of WfFormat traces to score (searched recursively)")
	history := fs.String("history", "", "directory of WfFormat traces observed before scoring")
	catalogPath := fs.String("catalog", "", "instance catalog YAML (default: the built-in catalog)")
	seed := fs.Uint64("seed", 1, "seed of every random draw; the same seed gives the same numbers")
	out := fs.String("out", "", "directory for report.md and the plots (PNG and SVG)")
	format := fs.String("o", "table", "output format: table or json")
	learning := fs.Int("learning", 100, "workflows in the RL learning-curve run (0 skips it)")
	objective := fs.String("objective", "balanced", "planning objective: fastest, cheapest or balanced")
	releases := fs.String("releases", "production", "how foresight and oracle give VMs back: production (look-ahead scale-in, unneeded launches cancelled, as the pool manager does) or plan (once the plan has nothing left for a VM)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: foresight bench --traces DIR [--history DIR] [--catalog FILE] [--seed N] [--releases production|plan] [--out DIR] [-o json|table]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *traces == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "bench: -o must be table or json, got %q\n", *format)
		return 2
	}
	cat := catalog.Default()
	if *catalogPath != "" {
		var err error
		if cat, err = catalog.Load(*catalogPath); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	if *releases != "production" && *releases != "plan" {
		fmt.Fprintf(stderr, "foresight bench: --releases %q: want production or plan\n", *releases)
		return 2
	}
	production := *releases == "production"
	opts := bench.Options{Catalog: cat, Seed: *seed, LearningWorkflows: *learning, Objective: *objective,
		ScaleIn: production, CancelUnneededLaunches: production,
		Progress: &elapsedWriter{w: stderr, start: time.Now()}}
	var err error
	var skipped []bench.Skipped
	if opts.Traces, skipped, err = bench.LoadDir(*traces); err != nil {
		fmt.Fprintf(stderr, "bench: --traces: %v\n", err)
		return 1
	}
	if *history != "" {
		var more []bench.Skipped
		if opts.History, more, err = bench.LoadDir(*history); err != nil {
			fmt.Fprintf(stderr, "bench: --history: %v\n", err)
			return 1
		}
		skipped = append(skipped, more...)
	}
	res, err := bench.Run(opts)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	res.Skipped = append(skipped, res.Skipped...)
	for _, s := range res.Skipped {
		fmt.Fprintf(stderr, "bench: skipped %s: %s\n", s.Trace, s.Reason)
	}
	if *out != "" {
		if err := bench.WriteReport(*out, res, opts); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	bench.WriteSummaryTable(tw, res)
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

// elapsedWriter prefixes each progress line with the time since the bench started.
type elapsedWriter struct {
	w     io.Writer
	start time.Time
}

func (e *elapsedWriter) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(e.w, "bench: %6.1fs %s", time.Since(e.start).Seconds(), p); err != nil {
		return 0, err
	}
	return len(p), nil
}
