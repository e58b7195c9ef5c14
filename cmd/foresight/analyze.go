package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/graphbuilder/dag"
	"github.com/foresight-run/foresight/services/graphbuilder/estimate"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

// analyzeReport is what `foresight analyze` prints: the graph-built figures of a
// workflow file, computed by the same cores the graph builder service runs.
type analyzeReport struct {
	Name                 string          `json:"name"`
	Family               string          `json:"family"`
	Format               spec.Format     `json:"format"`
	Tasks                int             `json:"tasks"`
	Edges                int             `json:"edges"`
	Levels               int             `json:"levels"`
	PeakWidth            int             `json:"peak_width"`
	CriticalPathSeconds  float64         `json:"critical_path_seconds"`
	CriticalPath         []string        `json:"critical_path"`
	TotalWorkCoreSeconds float64         `json:"total_work_core_seconds"`
	PeakCores            float64         `json:"peak_cores"`
	PeakMemoryBytes      int64           `json:"peak_memory_bytes"`
	EstimateSources      map[string]int  `json:"estimate_sources"`
	WidthProfile         []dag.WidthStep `json:"width_profile,omitempty"`
}

// problemReport is printed to stderr for bad input: the same problem list the API returns.
type problemReport struct {
	Error    string           `json:"error"`
	TooLarge bool             `json:"too_large,omitempty"`
	Problems []events.Problem `json:"problems"`
}

// runAnalyze implements `foresight analyze FILE [-o json]`. A WfFormat file is analysed
// with its recorded runtimes; a native spec with each task's estimate (the user's, else
// the global prior). It returns the process exit code: 0, 1 for bad input, 2 for usage.
func runAnalyze(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.String("o", "json", "output format: json")
	family := fs.String("family", "", "workflow family for signatures (default: from the file)")
	prior := fs.Float64("prior", estimate.DefaultGlobalPriorSeconds, "runtime in seconds assumed for tasks without any estimate")
	profile := fs.Bool("profile", false, "include the ASAP width profile")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: foresight analyze FILE [-o json] [-family NAME] [-prior SECONDS] [-profile]")
		fs.PrintDefaults()
	}
	// Accept flags before or after the file, as users type both.
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	file := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *output != "json" {
		fs.Usage()
		return 2
	}

	report, err := analyzeFile(file, *family, *prior, *profile)
	if err != nil {
		out := problemReport{Error: err.Error()}
		var se *spec.Error
		if errors.As(err, &se) {
			out.Problems, out.TooLarge = se.Problems, se.TooLarge
		} else {
			out.Problems = []events.Problem{{Field: "file", Reason: err.Error()}}
		}
		enc := json.NewEncoder(stderr)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(report); err != nil {
		fmt.Fprintf(stderr, "analyze: write: %v\n", err)
		return 1
	}
	return 0
}

func analyzeFile(file, family string, prior float64, profile bool) (*analyzeReport, error) {
	lim := spec.DefaultLimits()
	data, err := readLimited(file, lim.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	w, err := spec.Parse(data, lim)
	if err != nil {
		return nil, err
	}
	if family != "" {
		w.Family = family
	}
	return analyzeWorkflow(w, prior, profile)
}

// readLimited reads at most limit+1 bytes, so an oversized file is refused by Parse's
// limit without being read whole.
func readLimited(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read workflow: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read workflow %s: %w", file, err)
	}
	return data, nil
}

func analyzeWorkflow(w *spec.Workflow, prior float64, profile bool) (*analyzeReport, error) {
	// Analysing a file means analysing what it records: a trace's runtimes are used as is.
	gb, a, err := estimate.Annotate("", w, nil, estimate.Options{GlobalPriorSeconds: prior, UseTraceRuntimes: true})
	if err != nil {
		return nil, err
	}
	sources := map[string]int{}
	for _, t := range gb.Tasks {
		sources[t.EstimateSource]++
	}
	r := &analyzeReport{
		Name:                 gb.Name,
		Family:               gb.Family,
		Format:               w.Format,
		Tasks:                len(gb.Tasks),
		Edges:                gb.Edges,
		Levels:               gb.Levels,
		PeakWidth:            gb.PeakWidth,
		CriticalPathSeconds:  gb.CriticalPathSeconds,
		CriticalPath:         gb.CriticalPath,
		TotalWorkCoreSeconds: gb.TotalWorkCoreSeconds,
		PeakCores:            gb.PeakCores,
		PeakMemoryBytes:      gb.PeakMemoryBytes,
		EstimateSources:      sources,
	}
	if profile {
		r.WidthProfile = a.WidthProfile
	}
	return r, nil
}
