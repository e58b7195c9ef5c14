package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunBench(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, stdout string, outDir string)
	}{
		{
			name: "json on a tiny synthetic trace dir",
			args: []string{"--traces", "bench/testdata/tiny", "-o", "json", "--seed", "3", "--learning", "4"},
			check: func(t *testing.T, stdout, _ string) {
				var doc struct {
					Runs       []map[string]any `json:"runs"`
					Prediction []map[string]any `json:"prediction"`
					Summary    map[string]any   `json:"summary"`
				}
				require.NoError(t, json.Unmarshal([]byte(stdout), &doc))
				require.NotEmpty(t, doc.Runs)
				require.Contains(t, doc.Summary, "policies")
			},
		},
		{
			name: "table and report",
			args: []string{"--traces", "bench/testdata/tiny", "--learning", "4", "--out", "OUT"},
			check: func(t *testing.T, stdout, outDir string) {
				require.Contains(t, stdout, "reactive-cold")
				_, err := os.Stat(filepath.Join(outDir, "report.md"))
				require.NoError(t, err)
			},
		},
		{
			name: "unusable traces are skipped with a warning",
			args: []string{"--traces", "bench/testdata/mixed", "-o", "json", "--learning", "0"},
			check: func(t *testing.T, stdout, _ string) {
				var doc struct {
					Runs    []map[string]any `json:"runs"`
					Skipped []map[string]any `json:"skipped"`
				}
				require.NoError(t, json.Unmarshal([]byte(stdout), &doc))
				require.NotEmpty(t, doc.Runs)
				require.Len(t, doc.Skipped, 2)
			},
		},
		{name: "missing --traces", args: []string{"-o", "json"}, wantCode: 2},
		{name: "bad format", args: []string{"--traces", "bench/testdata/tiny", "-o", "xml"}, wantCode: 2},
		{name: "no traces in dir", args: []string{"--traces", "EMPTY"}, wantCode: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			outDir := t.TempDir()
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				switch a {
				case "OUT":
					a = outDir
				case "EMPTY":
					a = t.TempDir()
				}
				args[i] = a
			}
			var stdout, stderr bytes.Buffer
			code := runBench(args, &stdout, &stderr)
			require.Equal(t, tc.wantCode, code, "stderr: %s", stderr.String())
			if tc.check != nil {
				tc.check(t, stdout.String(), outDir)
			}
		})
	}
}

// A long bench shows that it moves: a line on stderr per scored trace and per tenth of the
// learning curve, with the time since it started; stdout stays the result alone.
func TestBenchReportsProgressOnStderr(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := runBench([]string{"--traces", "bench/testdata/tiny", "-o", "json", "--learning", "10"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	require.Regexp(t, `bench: +\d+\.\ds scored 1/3 chain/chain-synthetic-001\.json \(\d+ tasks\)`, stderr.String())
	require.Contains(t, stderr.String(), "scored 3/3")
	require.Contains(t, stderr.String(), "learning curve: 9/10 workflows")
	var res map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
}
