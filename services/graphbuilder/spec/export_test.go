package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/services/graphbuilder/dag"
)

// wfSchema compiles the official WfFormat 1.5 schema (a copy in testdata).
func wfSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "wfformat-schema-1.5.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	// The schema names its draft as "http://json-schema.org/schema#" (the latest draft of
	// its day); compile it as draft-07, which it is written in.
	if m, ok := doc.(map[string]any); ok {
		delete(m, "$schema")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	require.NoError(t, c.AddResource("wfformat-1.5.json", doc))
	sch, err := c.Compile("wfformat-1.5.json")
	require.NoError(t, err)
	return sch
}

func validateWfFormat(t testing.TB, sch *jsonschema.Schema, data []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(inst))
}

// simulateRuns "executes" w as an ASAP schedule of its replay (or estimated) durations,
// as the agents would report it, starting at a fixed instant.
func simulateRuns(t testing.TB, w *Workflow) []Run {
	t.Helper()
	g, problems := dag.New(w.Tasks)
	require.Empty(t, problems)
	durations := make([]float64, len(w.Tasks))
	for i, tk := range w.Tasks {
		durations[i] = max(tk.ReplaySeconds, tk.EstimatedSeconds, 1)
	}
	a := dag.Analyze(g, durations, nil, nil)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	runs := make([]Run, len(w.Tasks))
	for i, tk := range w.Tasks {
		runs[i] = Run{
			TaskID: tk.ID, Machine: []string{"vm-a", "vm-b"}[i%2],
			StartedAt:      base.Add(time.Duration(a.Start[i] * float64(time.Second))),
			RuntimeSeconds: durations[i], CPUSeconds: durations[i] * tk.CPU * 0.75,
			PeakRSSBytes: tk.MemoryBytes / 2,
		}
	}
	return runs
}

func TestExportRoundTripValidates(t *testing.T) {
	t.Parallel()
	sch := wfSchema(t)
	files := []string{"diamond.json"}
	if _, ok := findShared(); ok {
		files = append(files, traceFiles(t)...)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			var w *Workflow
			if file == "diamond.json" {
				w = mustParse(t, diamondJSON)
			} else {
				data, err := os.ReadFile(file)
				require.NoError(t, err)
				w, err = Parse(data, DefaultLimits())
				require.NoError(t, err)
			}
			runs := simulateRuns(t, w)
			// A retried task: the earlier, failed attempt must not be exported.
			failed := runs[0]
			failed.StartedAt = failed.StartedAt.Add(-time.Hour)
			failed.RuntimeSeconds, failed.ExitCode = 0.1, 1
			runs = append(runs, failed)

			out, err := ExportWfFormat(w, runs)
			require.NoError(t, err)
			validateWfFormat(t, sch, out)

			back, err := Parse(out, DefaultLimits())
			require.NoError(t, err)
			require.Equal(t, FormatWfFormat15, back.Format)
			require.Len(t, back.Tasks, len(w.Tasks))
			for i, tk := range back.Tasks {
				orig := w.Tasks[i]
				require.Equal(t, orig.ID, tk.ID)
				require.Equal(t, orig.DependsOn, tk.DependsOn, orig.ID)
				require.InDelta(t, runs[i].RuntimeSeconds, tk.ReplaySeconds, 1e-9, orig.ID)
				require.Equal(t, runs[i].PeakRSSBytes, tk.MemoryBytes, orig.ID)
				require.Equal(t, orig.Category, tk.Category, orig.ID)
				require.Equal(t, orig.InputBytes, tk.InputBytes, orig.ID)
			}
		})
	}
}

func TestExportDetails(t *testing.T) {
	t.Parallel()
	w := mustParse(t, `{"name": "odd ids", "tasks": [
		{"id": "step/1", "command": ["run", "", "-v"], "cpu": 1.5, "memory": "1Gi"},
		{"id": "step_1", "command": ["run"], "depends_on": ["step/1"]},
		{"id": "never-ran", "command": ["x"], "depends_on": ["step_1"]}]}`)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out, err := ExportWfFormat(w, []Run{
		{TaskID: "step/1", Machine: "m1", StartedAt: start, RuntimeSeconds: 10, CPUSeconds: 12, PeakRSSBytes: 5},
		{TaskID: "step_1", Machine: "m1", StartedAt: start.Add(10 * time.Second), RuntimeSeconds: 5, CPUSeconds: 1},
	})
	require.NoError(t, err)
	validateWfFormat(t, wfSchema(t), out)

	var doc map[string]any
	require.NoError(t, json.Unmarshal(out, &doc))
	wf := doc["workflow"].(map[string]any)
	specTasks := wf["specification"].(map[string]any)["tasks"].([]any)
	require.Equal(t, "step_1_2", specTasks[0].(map[string]any)["id"], "unsafe id rewritten without colliding")
	require.Equal(t, []any{"step_1_2"}, specTasks[1].(map[string]any)["parents"])
	exec := wf["execution"].(map[string]any)
	require.InDelta(t, 15, exec["makespanInSeconds"], 1e-9)
	require.Equal(t, "2026-01-02T03:04:05Z", exec["executedAt"])
	et := exec["tasks"].([]any)
	require.Len(t, et, 2, "tasks without a run are in the specification only")
	first := et[0].(map[string]any)
	require.InDelta(t, 120, first["avgCPU"], 1e-9)
	require.InDelta(t, 2, first["coreCount"], 0)
	require.Equal(t, map[string]any{"program": "run", "arguments": []any{"-v"}}, first["command"])
	require.Equal(t, []any{map[string]any{"nodeName": "m1"}}, exec["machines"])

	// Without runs the instance is a specification only, still valid.
	out, err = ExportWfFormat(w, nil)
	require.NoError(t, err)
	validateWfFormat(t, wfSchema(t), out)

	_, err = ExportWfFormat(&Workflow{Name: "x"}, nil)
	require.ErrorIs(t, err, ErrEmptyWorkflow)
}
