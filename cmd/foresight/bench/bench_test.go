package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
)

type fixture struct {
	traces []*Trace
	cat    catalog.Catalog
}

func setup(t *testing.T) fixture {
	t.Helper()
	trs, _, err := LoadDir("testdata/tiny")
	require.NoError(t, err)
	return fixture{traces: trs, cat: catalog.Default()}
}

func runTiny(t *testing.T, f fixture, seed uint64) *Result {
	t.Helper()
	res, err := Run(Options{Traces: f.traces, Catalog: f.cat, Seed: seed, LearningWorkflows: 6})
	require.NoError(t, err)
	return res
}

func TestLoadDirOrdersByFamilyThenFile(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var names []string
	for _, tr := range f.traces {
		names = append(names, tr.Name)
	}
	require.Equal(t, []string{"chain/chain-synthetic-001.json", "toy/toy-synthetic-001.json", "toy/toy-synthetic-002.json"}, names)
	require.Equal(t, "toy", f.traces[1].Family)
	require.Len(t, f.traces[1].Tasks, 10)
}

func TestSameSeedSameJSON(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a, err := json.Marshal(runTiny(t, f, 7))
	require.NoError(t, err)
	b, err := json.Marshal(runTiny(t, f, 7))
	require.NoError(t, err)
	require.JSONEq(t, string(a), string(b))
}

func TestLowerBoundsHoldForEveryPolicy(t *testing.T) {
	t.Parallel()
	f := setup(t)
	real, _, err := LoadDir("testdata/real")
	require.NoError(t, err)
	for _, seed := range []uint64{1, 2, 3} {
		res := runTiny(t, f, seed)
		more, err := Run(Options{Traces: real, Catalog: f.cat, Seed: seed})
		require.NoError(t, err)
		res.Runs = append(res.Runs, more.Runs...)
		require.NotEmpty(t, res.Runs)
		for _, r := range res.Runs {
			require.LessOrEqual(t, r.MakespanLowerBoundSeconds, r.MakespanSeconds+1e-6, "%s %s seed %d", r.Trace, r.Policy, seed)
			require.LessOrEqual(t, r.CostLowerBoundUSD, r.CostUSD+1e-12, "%s %s seed %d", r.Trace, r.Policy, seed)
			require.Positive(t, r.MakespanLowerBoundSeconds)
			require.Positive(t, r.CostLowerBoundUSD)
		}
	}
}

func TestJSONFieldNames(t *testing.T) {
	t.Parallel()
	f := setup(t)
	data, err := json.Marshal(runTiny(t, f, 1))
	require.NoError(t, err)
	var doc map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &doc))
	for _, k := range []string{"runs", "prediction", "summary"} {
		require.Contains(t, doc, k)
	}
	var runs []map[string]any
	require.NoError(t, json.Unmarshal(doc["runs"], &runs))
	require.NotEmpty(t, runs)
	for _, k := range []string{"trace", "family", "tasks", "policy", "makespan_seconds", "cost_usd",
		"makespan_lower_bound_seconds", "cost_lower_bound_usd"} {
		require.Contains(t, runs[0], k)
	}
	for _, r := range runs {
		if r["policy"] == PolicyForesight {
			require.NotEmpty(t, r["action"], "foresight's row says which knobs it ran with")
			require.NotEmpty(t, r["reason"])
		}
	}
}

func TestHistoryNeverHoldsTheScoredTrace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	real, _, err := LoadDir("testdata/real")
	require.NoError(t, err)
	tests := []struct {
		name    string
		history []*Trace
		// traces are scored (all of real when nil).
		traces []*Trace
		// want maps a trace to whether its family had history when it was scored.
		want map[string]bool
	}{
		{
			name: "scored in order, each joining history after it is scored",
			want: map[string]bool{
				"blast-chameleon-small-001.json": false, "epigenomics-chameleon-hep-1seq-100k-001.json": false,
				"srasearch-chameleon-10a-001.json": false, "srasearch-chameleon-10a-002.json": true,
			},
		},
		{
			name: "a history directory is observed first", history: []*Trace{real[2]},
			traces: []*Trace{real[0], real[1], real[3]},
			want: map[string]bool{
				"blast-chameleon-small-001.json": false, "srasearch-chameleon-10a-002.json": true,
			},
		},
		{
			name: "a run given as history and to score is not its own history", history: []*Trace{real[2]},
			want: map[string]bool{
				"blast-chameleon-small-001.json": false, "srasearch-chameleon-10a-001.json": false,
				"srasearch-chameleon-10a-002.json": true,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			traces := tc.traces
			if traces == nil {
				traces = real
			}
			res, err := Run(Options{Traces: traces, History: tc.history, Catalog: f.cat, Seed: 1})
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, r := range res.Prediction {
				if want, ok := tc.want[r.Trace]; ok {
					require.Equal(t, want, r.WithHistory, "%s %s", r.Trace, r.Method)
					seen[r.Trace] = true
				}
			}
			require.Len(t, seen, len(tc.want))
			// With no history at all, the baselines have nothing to say at submission.
			for _, r := range res.Prediction {
				if r.Trace == "blast-chameleon-small-001.json" && r.Method == MethodLastRun+SubmitSuffix && tc.history == nil {
					require.InDelta(t, 1.0, r.MedianAPE, 1e-9)
				}
			}
		})
	}
}

func TestUnusableTracesAreSkippedNotFatal(t *testing.T) {
	t.Parallel()
	trs, skipped, err := LoadDir("testdata/mixed")
	require.NoError(t, err)
	require.Len(t, skipped, 1, "the cyclic workflow does not parse")
	require.Equal(t, "cyclic-synthetic-001.json", skipped[0].Trace)
	res, err := Run(Options{Traces: trs, Catalog: catalog.Default(), Seed: 1})
	require.NoError(t, err)
	require.Len(t, res.Skipped, 1, "no instance type fits the 1 TiB task")
	require.Equal(t, "huge-synthetic-001.json", res.Skipped[0].Trace)
	require.Contains(t, res.Skipped[0].Reason, "fits")
	for _, r := range res.Runs {
		require.Equal(t, "chain-synthetic-001.json", r.Trace)
	}
	require.Len(t, res.Runs, len(Policies))
}

// TestHistoryNeverHoldsTheScoredRun: giving the same runs as history and as traces to
// score must not let a run be predicted from its own runtimes, so the result equals
// scoring them with no history at all.
func TestHistoryNeverHoldsTheScoredRun(t *testing.T) {
	t.Parallel()
	trs, _, err := LoadDir(filepath.Join("testdata", "real"))
	require.NoError(t, err)
	require.NotEmpty(t, trs)
	opts := Options{Catalog: catalog.Default(), Seed: 3, LearningWorkflows: 0}
	opts.Traces = trs
	alone, err := Run(opts)
	require.NoError(t, err)
	opts.History = trs
	same, err := Run(opts)
	require.NoError(t, err)
	require.Equal(t, alone.Prediction, same.Prediction)
	require.Equal(t, alone.Runs, same.Runs)
}

// The hindsight yardstick predicts each task by its own stage's median and 90th
// percentile in the scored run.
func TestHindsightStageIsTheRunsOwnStageMedian(t *testing.T) {
	t.Parallel()
	tr := &Trace{Tasks: []Task{
		{Signature: "a", Runtime: 1}, {Signature: "a", Runtime: 3}, {Signature: "a", Runtime: 2},
		{Signature: "b", Runtime: 10}, {Signature: "b", Runtime: 0}, // a zero runtime says nothing
	}}
	fc := hindsightStage(tr)
	require.Equal(t, taskForecast{2, 3}, fc[0])
	require.Equal(t, fc[0], fc[1])
	require.Equal(t, taskForecast{10, 10}, fc[3])
	require.Equal(t, taskForecast{10, 10}, fc[4])
}

// Scored traces whose families were never seen before have no with-history numbers: the
// summary says so instead of reporting a perfect 0.
func TestNoHistoryIsNotAPerfectScore(t *testing.T) {
	t.Parallel()
	f := setup(t)
	res, err := Run(Options{Traces: f.traces[:1], Catalog: f.cat, Seed: 1})
	require.NoError(t, err)
	for _, m := range res.Summary.Methods {
		require.Zero(t, m.TracesWithHistory, m.Method)
	}
	var table strings.Builder
	WriteSummaryTable(&table, res)
	require.Contains(t, table.String(), "n/a")
}

func TestLearningCurveDrawsTracesOfBoundedSize(t *testing.T) {
	t.Parallel()
	small := &Trace{Name: "small", Tasks: make([]Task, 10)}
	big := &Trace{Name: "big", Tasks: make([]Task, LearningMaxTasks+1)}
	require.Equal(t, []*Trace{small}, learnable([]*Trace{big, small}))
	require.Empty(t, learnable([]*Trace{big}), "with nothing smaller, nothing is drawn")
	require.Empty(t, learningSkipReason([]*Trace{big, small}))
	require.Contains(t, learningSkipReason([]*Trace{big}), "the smallest has 2001")
}

// nextflowRun writes one RO-Crate-style Nextflow instance: every task name carries its
// sample or interval as a tag, and no command.program is recorded.
func nextflowRun(t *testing.T, path, sample string, runtime float64) {
	t.Helper()
	type task struct {
		Name     string   `json:"name"`
		ID       string   `json:"id"`
		Parents  []string `json:"parents"`
		Children []string `json:"children"`
	}
	type exec struct {
		ID      string  `json:"id"`
		Runtime float64 `json:"runtimeInSeconds"`
		Cores   float64 `json:"coreCount"`
	}
	var tasks []task
	var execs []exec
	var calls []string
	for i := range 6 {
		id := fmt.Sprintf("NFCORE_SAREK:SAREK:GATK4_HAPLOTYPECALLER__%s_chr%d__ID%d", sample, i+1, 1<<(i+40))
		calls = append(calls, id)
		tasks = append(tasks, task{Name: id, ID: id, Parents: []string{}, Children: []string{}})
		execs = append(execs, exec{ID: id, Runtime: runtime * (1 + 0.05*float64(i)), Cores: 1})
	}
	qc := "NFCORE_SAREK:SAREK:MULTIQC__ID0000099"
	tasks = append(tasks, task{Name: qc, ID: qc, Parents: calls, Children: []string{}})
	execs = append(execs, exec{ID: qc, Runtime: 5, Cores: 1})
	doc := map[string]any{"name": "reconstructed_workflow", "schemaVersion": "1.6", "workflow": map[string]any{
		"specification": map[string]any{"tasks": tasks, "files": []any{}},
		"execution":     map[string]any{"tasks": execs},
	}}
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// Runs of one Nextflow pipeline on different samples are one family whose tasks share
// signatures, so a later run is predicted from an earlier one, even when the file names
// have no dash and only the folder names the family.
func TestNextflowRunsShareHistory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sarek_germline")
	require.NoError(t, os.Mkdir(dir, 0o700))
	nextflowRun(t, filepath.Join(dir, "sarek_germline_w1_t01.json"), "HG00096", 40)
	nextflowRun(t, filepath.Join(dir, "sarek_germline_w1_t02.json"), "HG00097", 44)
	trs, skipped, err := LoadDir(dir)
	require.NoError(t, err)
	require.Empty(t, skipped)
	require.Len(t, trs, 2)
	for _, tr := range trs {
		require.Equal(t, "sarek_germline", tr.Family)
	}
	require.Equal(t, trs[0].Tasks[0].Signature, trs[1].Tasks[0].Signature, "samples differ, the process does not")

	res, err := Run(Options{Traces: trs, Catalog: catalog.Default(), Seed: 1})
	require.NoError(t, err)
	scored := false
	for _, r := range res.Prediction {
		if r.Method == MethodForesight+SubmitSuffix && r.Trace == trs[1].Name {
			scored = true
			require.True(t, r.WithHistory)
			require.Less(t, r.MedianAPE, 0.25, "the first run's 40–50 s calls predict the second's 44–55 s")
		}
	}
	require.True(t, scored)
}

// A traces folder holding only workflows too large to draw skips the learning curve and
// says why, rather than executing a 2,001-task workflow 18 times for each of a hundred
// draws.
func TestLearningCurveSkipsWhenEveryTraceIsTooLarge(t *testing.T) {
	t.Parallel()
	n := LearningMaxTasks + 1
	var tasks, execs []string
	for i := range n {
		tasks = append(tasks, fmt.Sprintf(`{"name": "work_ID%07d", "id": "work_ID%07d", "parents": [], "children": []}`, i, i))
		execs = append(execs, fmt.Sprintf(`{"id": "work_ID%07d", "runtimeInSeconds": %d, "coreCount": 1}`, i, 5+i%7))
	}
	doc := fmt.Sprintf(`{"name": "wide", "schemaVersion": "1.5", "workflow": {"specification": {"tasks": [%s], "files": []},
		"execution": {"tasks": [%s]}}}`, strings.Join(tasks, ","), strings.Join(execs, ","))
	tr, err := ParseTrace("wide/wide-synthetic-001.json", []byte(doc))
	require.NoError(t, err)
	require.Len(t, tr.Tasks, n)

	res, err := Run(Options{Traces: []*Trace{tr}, Catalog: catalog.Default(), Seed: 1, LearningWorkflows: 100})
	require.NoError(t, err)
	require.Nil(t, res.Learning)
	require.Contains(t, res.LearningSkipped, "smallest has 2001")
	require.NotEmpty(t, res.Runs, "the trace is still scored")

	var out strings.Builder
	WriteSummaryTable(&out, res)
	require.Contains(t, out.String(), "learning: skipped: no trace has at most 2000 tasks")
}

// A workflow none of whose tasks took measurable time has nothing to replay: every ratio
// to its lower bounds would be 0/0, and one NaN made the whole JSON report unwritable.
func TestTraceWithoutWorkIsRefused(t *testing.T) {
	t.Parallel()
	_, err := ParseTrace("zero/zero-synthetic-001.json", []byte(`{"name": "zero", "schemaVersion": "1.5", "workflow": {
	  "specification": {"tasks": [{"name": "a_ID1", "id": "a_ID1", "parents": [], "children": []},
	                              {"name": "b_ID2", "id": "b_ID2", "parents": ["a_ID1"], "children": []}]},
	  "execution": {"tasks": [{"id": "a_ID1", "runtimeInSeconds": 0}, {"id": "b_ID2", "runtimeInSeconds": 0}]}}}`))
	require.ErrorIs(t, err, ErrNoWork)

	tr, err := ParseTrace("some/some-synthetic-001.json", []byte(`{"name": "some", "schemaVersion": "1.5", "workflow": {
	  "specification": {"tasks": [{"name": "a_ID1", "id": "a_ID1", "parents": [], "children": []},
	                              {"name": "b_ID2", "id": "b_ID2", "parents": ["a_ID1"], "children": []}]},
	  "execution": {"tasks": [{"id": "a_ID1", "runtimeInSeconds": 0}, {"id": "b_ID2", "runtimeInSeconds": 2}]}}}`))
	require.NoError(t, err, "one task with work is enough")
	res, err := Run(Options{Traces: []*Trace{tr}, Catalog: catalog.Default(), Seed: 1})
	require.NoError(t, err)
	_, err = json.Marshal(res)
	require.NoError(t, err)
}

// Unseen trace sets hold odd instances; each is scored or skipped with a reason, and the
// result always encodes: one task, a week-long task beside a millisecond one, a task with
// no execution record, a 300-task chain, missing and negative file sizes, a Nextflow
// script as command.program with a zero-second task, and a workflow with no work at all.
func TestOddInstancesAreScoredOrSkipped(t *testing.T) {
	t.Parallel()
	trs, skipped, err := LoadDir("testdata/odd")
	require.NoError(t, err)
	require.Len(t, skipped, 1)
	require.Equal(t, "zero-synthetic-001.json", skipped[0].Trace)
	require.Contains(t, skipped[0].Reason, ErrNoWork.Error())
	require.Len(t, trs, 7)

	res, err := Run(Options{Traces: trs, Catalog: catalog.Default(), Seed: 2, LearningWorkflows: 10})
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	require.Len(t, res.Runs, len(trs)*len(Policies))
	for _, r := range res.Runs {
		require.Positive(t, r.MakespanSeconds, "%s %s", r.Trace, r.Policy)
		require.False(t, math.IsInf(r.CostUSD, 0) || math.IsNaN(r.CostUSD), "%s %s", r.Trace, r.Policy)
	}
	require.NotNil(t, res.Learning)
	_, err = json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, WriteReport(t.TempDir(), res, Options{Seed: 2}))
}
