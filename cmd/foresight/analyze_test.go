package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sharedDir finds ../shared (the traces beside the repository) by walking up from the
// package directory; tests that need it skip when it is absent.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	require.NoError(t, err)
	for {
		cand := filepath.Join(dir, "shared")
		if st, err := os.Stat(filepath.Join(cand, "traces", "MANIFEST.tsv")); err == nil && !st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared traces not found beside the repository")
		}
		dir = parent
	}
}

type manifestRow struct {
	path         string
	tasks, edges int
	// peakWidth is asap_peak_concurrency: tasks running at once under ASAP.
	peakWidth    int
	criticalPath float64
	totalRuntime float64
}

func readManifest(t *testing.T, file string) []manifestRow {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var rows []manifestRow
	var header []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if header == nil {
			header = cols
			continue
		}
		get := func(name string) string {
			for i, h := range header {
				if h == name {
					return cols[i]
				}
			}
			t.Fatalf("MANIFEST has no column %q", name)
			return ""
		}
		num := func(name string) float64 {
			x, err := strconv.ParseFloat(get(name), 64)
			require.NoError(t, err, name)
			return x
		}
		rows = append(rows, manifestRow{
			path: get("path"), tasks: int(num("tasks")), edges: int(num("edges")),
			peakWidth:    int(num("asap_peak_concurrency")),
			criticalPath: num("critical_path_s"), totalRuntime: num("total_runtime_s"),
		})
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, rows)
	return rows
}

func analyzeJSON(t *testing.T, args ...string) (analyzeReport, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runAnalyze(args, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	var r analyzeReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r))
	return r, stdout.String()
}

func requireWithin(t *testing.T, want, got, rel float64, msg string) {
	t.Helper()
	require.LessOrEqual(t, math.Abs(got-want), rel*math.Abs(want), "%s: want %v got %v", msg, want, got)
}

func TestAnalyzeReproducesManifest(t *testing.T) {
	t.Parallel()
	shared := sharedDir(t)
	for _, row := range readManifest(t, filepath.Join(shared, "traces", "MANIFEST.tsv")) {
		t.Run(row.path, func(t *testing.T) {
			t.Parallel()
			r, _ := analyzeJSON(t, filepath.Join(shared, "traces", row.path), "-o", "json")
			require.Equal(t, row.tasks, r.Tasks)
			require.Equal(t, row.edges, r.Edges)
			requireWithin(t, row.criticalPath, r.CriticalPathSeconds, 0.001, "critical_path_s")
			require.Equal(t, "wfformat-1.5", string(r.Format))
			require.Equal(t, row.tasks, r.EstimateSources["trace"])
			require.NotEmpty(t, r.CriticalPath)
			require.Equal(t, row.peakWidth, r.PeakWidth, "asap_peak_concurrency")
			require.GreaterOrEqual(t, r.TotalWorkCoreSeconds, row.totalRuntime*(1-1e-4),
				"every task has at least one core, so work >= total runtime (MANIFEST rounds to 3 decimals)")
		})
	}
}

// The README of ../shared/wfformat lists the 1.4 instances' figures.
func TestAnalyzeWfFormat14Readme(t *testing.T) {
	t.Parallel()
	shared := sharedDir(t)
	readme, err := os.ReadFile(filepath.Join(shared, "wfformat", "README.md"))
	require.NoError(t, err)
	found := 0
	for _, line := range strings.Split(string(readme), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 7 || !strings.Contains(cols[1], "examples-1.4/") {
			continue
		}
		file := strings.TrimSpace(cols[1])
		tasks, err1 := strconv.Atoi(strings.TrimSpace(cols[2]))
		edges, err2 := strconv.Atoi(strings.TrimSpace(cols[3]))
		cp, err3 := strconv.ParseFloat(strings.TrimSpace(cols[5]), 64)
		require.NoError(t, err1)
		require.NoError(t, err2)
		require.NoError(t, err3)
		found++
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			r, _ := analyzeJSON(t, filepath.Join(shared, "wfformat", file))
			require.Equal(t, tasks, r.Tasks)
			require.Equal(t, edges, r.Edges)
			requireWithin(t, cp, r.CriticalPathSeconds, 0.001, "critical path")
			require.Equal(t, "wfformat-1.4", string(r.Format))
		})
	}
	require.Equal(t, 2, found, "README table rows")
}

func TestAnalyzeNative(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "wf.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
name: diamond
tasks:
  - {id: a, command: [echo, a], estimated_seconds: 10, cpu: 2}
  - {id: b, command: [echo, b], estimated_seconds: 30, depends_on: [a]}
  - {id: c, command: [echo, c], depends_on: [a]}
  - {id: d, command: [echo, d], estimated_seconds: 5, depends_on: [b, c]}
`), 0o600))
	r, _ := analyzeJSON(t, "-prior", "20", file)
	require.Equal(t, 4, r.Tasks)
	require.Equal(t, 4, r.Edges)
	require.Equal(t, 3, r.Levels)
	require.Equal(t, 2, r.PeakWidth)
	require.InDelta(t, 45, r.CriticalPathSeconds, 1e-9)
	require.Equal(t, []string{"a", "b", "d"}, r.CriticalPath)
	require.InDelta(t, 10*2+30+20+5, r.TotalWorkCoreSeconds, 1e-9)
	require.Equal(t, map[string]int{"user": 3, "global-prior": 1}, r.EstimateSources)
	require.Equal(t, "native", string(r.Format))
}

func TestAnalyzeBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantIn   []string
	}{
		{name: "cycle and unknown field", wantCode: 1, body: `{"name":"x","tasks":[
			{"id":"a","command":["true"],"depends_on":["b"],"colour":"red"},
			{"id":"b","command":["true"],"depends_on":["a"]}]}`,
			wantIn: []string{"cycle: ", "unknown field", "tasks[0].colour"}},
		{name: "not a workflow", wantCode: 1, body: `[1,2,3]`, wantIn: []string{"problems"}},
		{name: "missing file", wantCode: 1, wantIn: []string{"read workflow"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			if tc.body != "" {
				require.NoError(t, os.WriteFile(file, []byte(tc.body), 0o600))
			}
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.wantCode, runAnalyze([]string{file}, &stdout, &stderr))
			require.Empty(t, stdout.String())
			var rep problemReport
			require.NoError(t, json.Unmarshal(stderr.Bytes(), &rep), stderr.String())
			require.NotEmpty(t, rep.Problems)
			for _, s := range tc.wantIn {
				require.Contains(t, stderr.String(), s)
			}
		})
	}
}

func TestAnalyzeUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{name: "no file", args: nil},
		{name: "unknown output", args: []string{"x.json", "-o", "yaml"}},
		{name: "unknown flag", args: []string{"-zzz", "x.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, runAnalyze(tc.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), "usage")
		})
	}
}
