package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

func TestEveryTraceImports(t *testing.T) {
	t.Parallel()
	for _, file := range traceFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			w, err := Parse(data, DefaultLimits())
			require.NoError(t, err)
			require.Contains(t, []Format{FormatWfFormat14, FormatWfFormat15}, w.Format)
			require.NotEmpty(t, w.Family)
			for _, tk := range w.Tasks {
				require.Equal(t, []string{ReplayCommand}, tk.Command)
				require.Positive(t, tk.ReplaySeconds, tk.ID)
				require.GreaterOrEqual(t, tk.CPU, 1.0)
				require.Positive(t, tk.MemoryBytes)
				require.NotEmpty(t, tk.Category)
				require.NotContains(t, tk.Category, "_ID0", "category has no id suffix")
			}
		})
	}
}

// The 1.4 epigenomics instance is the same run as its 1.5 twin: same tasks, edges,
// runtimes, resources, categories and input sizes.
func TestWfFormat14MatchesItsTwin(t *testing.T) {
	t.Parallel()
	shared := sharedDir(t)
	read := func(rel string) *Workflow {
		data, err := os.ReadFile(filepath.Join(shared, rel))
		require.NoError(t, err)
		w, err := Parse(data, DefaultLimits())
		require.NoError(t, err)
		return w
	}
	old := read("wfformat/examples-1.4/epigenomics-chameleon-hep-1seq-100k-001.json")
	twin := read("traces/pegasus/epigenomics/epigenomics-chameleon-hep-1seq-100k-001.json")
	require.Equal(t, FormatWfFormat14, old.Format)
	require.Equal(t, FormatWfFormat15, twin.Format)
	require.Equal(t, twin.Name, old.Name)
	require.Equal(t, "genome-dax", old.Family)

	byID := func(w *Workflow) map[string]events.Task {
		m := make(map[string]events.Task, len(w.Tasks))
		for _, tk := range w.Tasks {
			m[tk.ID] = tk
		}
		return m
	}
	a, b := byID(old), byID(twin)
	require.Len(t, a, 41)
	require.Equal(t, len(b), len(a))
	for id, ta := range a {
		tb, ok := b[id]
		require.True(t, ok, id)
		require.Equal(t, tb, ta, id)
	}
}

func TestWfFormatDetails(t *testing.T) {
	t.Parallel()
	// 1.5 with a child-only edge, a task without an execution record, coreCount, avgCPU,
	// memory, input files and an explicit category.
	w := mustParse(t, `{
	  "name": "Cycles-20200413T031424Z-0", "schemaVersion": "1.5",
	  "workflow": {
	    "specification": {
	      "tasks": [
	        {"name": "prep_ID01", "id": "prep_ID01", "parents": [], "children": ["run_ID02"], "inputFiles": ["in1", "in2"]},
	        {"name": "run_ID02", "id": "run_ID02", "parents": [], "children": [], "category": "runner"},
	        {"name": "late_ID03", "id": "late_ID03", "parents": ["run_ID02", "prep_ID01"], "children": []}
	      ],
	      "files": [{"id": "in1", "sizeInBytes": 100}, {"id": "in2", "sizeInBytes": 23}]
	    },
	    "execution": {"makespanInSeconds": 10, "executedAt": "x", "tasks": [
	      {"id": "prep_ID01", "runtimeInSeconds": 2.5, "avgCPU": 250, "memoryInBytes": 1000.5,
	       "command": {"program": "/opt/bin/prep", "arguments": ["-x"]}},
	      {"id": "run_ID02", "runtimeInSeconds": 4, "coreCount": 3}
	    ]}
	  }
	}`)
	require.Equal(t, FormatWfFormat15, w.Format)
	require.Equal(t, "cycles", w.Family)
	require.Equal(t, []events.Task{
		{ID: "prep_ID01", Command: []string{ReplayCommand}, CPU: 3, MemoryBytes: 1001, ReplaySeconds: 2.5,
			Category: "prep", InputBytes: 123},
		{ID: "run_ID02", Command: []string{ReplayCommand}, CPU: 3, MemoryBytes: DefaultMemoryBytes, ReplaySeconds: 4,
			Category: "runner", DependsOn: []string{"prep_ID01"}},
		{ID: "late_ID03", Command: []string{ReplayCommand}, CPU: 1, MemoryBytes: DefaultMemoryBytes,
			Category: "late", DependsOn: []string{"prep_ID01", "run_ID02"}},
	}, w.Tasks)

	// 1.4: parents by name, files inside tasks, cores.
	w = mustParse(t, `{"name": "m", "schemaVersion": "1.4", "workflow": {"tasks": [
	  {"name": "a_ID1", "id": "ID1", "parents": [], "runtimeInSeconds": 1, "cores": 2, "category": "a",
	   "files": [{"link": "input", "name": "f", "sizeInBytes": 5}, {"link": "output", "name": "g", "sizeInBytes": 7}]},
	  {"name": "b_ID2", "id": "ID2", "parents": ["a_ID1"], "runtimeInSeconds": 2}
	]}}`)
	require.Equal(t, FormatWfFormat14, w.Format)
	require.Equal(t, "a_ID1", w.Tasks[0].ID)
	require.InDelta(t, 2, w.Tasks[0].CPU, 0)
	require.Equal(t, int64(5), w.Tasks[0].InputBytes)
	require.Equal(t, []string{"a_ID1"}, w.Tasks[1].DependsOn)
	require.Equal(t, "b", w.Tasks[1].Category)

	// Clock skew in a recording: a negative runtime imports as zero.
	w = mustParse(t, `{"name": "m", "schemaVersion": "1.4", "workflow": {"tasks": [
	  {"name": "a", "id": "1", "parents": [], "runtimeInSeconds": -0.002}]}}`)
	require.Zero(t, w.Tasks[0].ReplaySeconds)
}

func TestWfFormatProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		reason string
	}{
		{name: "unknown parent", body: `{"name": "x", "schemaVersion": "1.5", "workflow": {"specification": {"tasks": [
			{"name": "a", "id": "a", "parents": ["zz"], "children": []}]}}}`, reason: `unknown dependency "zz"`},
		{name: "unknown child", body: `{"name": "x", "schemaVersion": "1.5", "workflow": {"specification": {"tasks": [
			{"name": "a", "id": "a", "parents": [], "children": ["zz"]}]}}}`, reason: `unknown child "zz"`},
		{name: "cycle", body: `{"name": "x", "schemaVersion": "1.4", "workflow": {"tasks": [
			{"name": "a", "id": "1", "parents": ["b"], "runtimeInSeconds": 1},
			{"name": "b", "id": "2", "parents": ["a"], "runtimeInSeconds": 1}]}}`, reason: "cycle: a -> b -> a"},
		{name: "no tasks", body: `{"name": "x", "schemaVersion": "1.5", "workflow": {"specification": {"tasks": []}}}`,
			reason: "no tasks"},
		{name: "wrong type", body: `{"name": "x", "schemaVersion": "1.5", "workflow": {"specification": {"tasks": "many"}}}`,
			reason: "invalid WfFormat instance"},
		{name: "task too large", body: `{"name": "x", "schemaVersion": "1.4", "workflow": {"tasks": [
			{"name": "a", "id": "1", "parents": [], "runtimeInSeconds": 1, "coreCount": 1000}]}}`, reason: "largest instance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			se := problemsOf(t, tc.body, DefaultLimits())
			reasons := make([]string, len(se.Problems))
			for i, p := range se.Problems {
				reasons[i] = p.Reason
			}
			require.True(t, slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, tc.reason) }), "%v", reasons)
		})
	}
}

func TestFamilyFromName(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{name: "timestamp and counter", in: "Cycles-20200413T031424Z-0", want: "cycles"},
		{name: "counter", in: "seismology-0", want: "seismology"},
		{name: "case", in: "Montage", want: "montage"},
		{name: "digits inside a token stay", in: "1000genome-20200401T035039Z-0", want: "1000genome"},
		{name: "no family in the name", in: "workflow-test", want: "workflow-test"},
		{name: "only noise", in: "0", want: "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, FamilyFromName(tc.in))
		})
	}
	require.Equal(t, "srasearch", FamilyFromFilename("/x/pegasus/srasearch/srasearch-chameleon-10a-001.json"))
	require.Equal(t, "", FamilyFromFilename("001.json"))
	require.Equal(t, "bacass", FamilyFromFilename("nextflow/legacy/bacass-dirt02-001.json"))
	require.Equal(t, "sarek_germline", FamilyFromFilename(`ro-crate\sarek_germline\sarek_germline_w1_t01.json`))
	require.Equal(t, "sarek_germline", FamilyFromFilename("sarek_germline_w1_t01.json"), "run counters trimmed")
	require.Equal(t, "rnaseq", FamilyFromFilename("rnaseq-gse110004-disco-001.json"))
	require.Equal(t, "t01", FamilyFromFilename("t01_002.json"), "a name never trims to nothing")
	require.Equal(t, "", FamilyFromFilename("007.json"))
}

// Nextflow instances name tasks differently from Pegasus and Makeflow: the legacy tracer
// records each process's shell script as command.program, the RO-Crate one tags names with
// the sample or interval. Either way the instances of one process share a category, so
// they are siblings and share history across runs.
func TestWfFormatNextflowCategories(t *testing.T) {
	t.Parallel()
	w := mustParse(t, `{"name": "bacass", "schemaVersion": "1.6", "workflow": {
	  "specification": {"tasks": [
	    {"name": "NFCORE_BACASS.BACASS.FASTQC", "id": "NFCORE_BACASS.BACASS.FASTQC_2", "parents": [], "children": []},
	    {"name": "NFCORE_BACASS.BACASS.FASTQC", "id": "NFCORE_BACASS.BACASS.FASTQC_4", "parents": [], "children": []},
	    {"name": "NFCORE_BACASS.BACASS.MULTIQC", "id": "NFCORE_BACASS.BACASS.MULTIQC_11",
	     "parents": ["NFCORE_BACASS.BACASS.FASTQC_2", "NFCORE_BACASS.BACASS.FASTQC_4"], "children": []}
	  ]},
	  "execution": {"tasks": [
	    {"id": "NFCORE_BACASS.BACASS.FASTQC_2", "runtimeInSeconds": 37,
	     "command": {"program": "fastqc --quiet --threads 1 ERR044595_1.fastq.gz\nfastqc --version | sed -e \"s/FastQC v//g\" > v.txt", "arguments": []}},
	    {"id": "NFCORE_BACASS.BACASS.FASTQC_4", "runtimeInSeconds": 37,
	     "command": {"program": "fastqc --quiet --threads 1 ERR064912/ERR064912_1.fastq.gz", "arguments": []}},
	    {"id": "NFCORE_BACASS.BACASS.MULTIQC_11", "runtimeInSeconds": 20.6, "command": {"program": "multiqc -f .", "arguments": []}}
	  ]}}}`)
	cats := func(w *Workflow) []string {
		var out []string
		for _, tk := range w.Tasks {
			out = append(out, tk.Category)
		}
		return out
	}
	require.Equal(t, []string{"NFCORE_BACASS.BACASS.FASTQC", "NFCORE_BACASS.BACASS.FASTQC", "NFCORE_BACASS.BACASS.MULTIQC"}, cats(w))

	w = mustParse(t, `{"name": "reconstructed_workflow", "schemaVersion": "1.6", "workflow": {
	  "specification": {"tasks": [
	    {"name": "NFCORE_SAREK:PREPARE_INTERVALS:TABIX_BGZIPTABIX_INTERVAL_SPLIT__chr10_124121503-133690466__ID36028797018963968",
	     "id": "NFCORE_SAREK:PREPARE_INTERVALS:TABIX_BGZIPTABIX_INTERVAL_SPLIT__chr10_124121503-133690466__ID36028797018963968", "parents": [], "children": []},
	    {"name": "NFCORE_SAREK:PREPARE_INTERVALS:TABIX_BGZIPTABIX_INTERVAL_SPLIT__chr11_60001-50821348__ID0000016",
	     "id": "NFCORE_SAREK:PREPARE_INTERVALS:TABIX_BGZIPTABIX_INTERVAL_SPLIT__chr11_60001-50821348__ID0000016", "parents": [], "children": []},
	    {"name": "NFCORE_SAREK:SAREK:GATK4_APPLYBQSR__HG00096__ID1645504557321206042154969182557350504982735865633579863348609024",
	     "id": "NFCORE_SAREK:SAREK:GATK4_APPLYBQSR__HG00096__ID1645504557321206042154969182557350504982735865633579863348609024", "parents": [], "children": []},
	    {"name": "NFCORE_SAREK:SAREK:MULTIQC__ID0000009", "id": "NFCORE_SAREK:SAREK:MULTIQC__ID0000009", "parents": [], "children": []}
	  ]},
	  "execution": {"tasks": [
	    {"id": "NFCORE_SAREK:SAREK:MULTIQC__ID0000009", "runtimeInSeconds": 11.1, "command": {"arguments": []}, "coreCount": 1.0}
	  ]}}}`)
	require.Equal(t, []string{
		"NFCORE_SAREK:PREPARE_INTERVALS:TABIX_BGZIPTABIX_INTERVAL_SPLIT", "NFCORE_SAREK:PREPARE_INTERVALS:TABIX_BGZIPTABIX_INTERVAL_SPLIT",
		"NFCORE_SAREK:SAREK:GATK4_APPLYBQSR", "NFCORE_SAREK:SAREK:MULTIQC",
	}, cats(w))
}

func TestWfFormatAsYAML(t *testing.T) {
	t.Parallel()
	w := mustParse(t, `
name: yaml-instance-0
schemaVersion: "1.4"
workflow:
  tasks:
    - {name: a_ID1, id: ID1, parents: [], runtimeInSeconds: 3}
    - {name: b_ID2, id: ID2, parents: [a_ID1], runtimeInSeconds: 4}
`)
	require.Equal(t, FormatWfFormat14, w.Format)
	require.Equal(t, "yaml-instance", w.Family)
	require.Equal(t, []string{"a_ID1"}, w.Tasks[1].DependsOn)

	se := problemsOf(t, "name: x\ntasks: []\n---\nname: y\n", DefaultLimits())
	require.Contains(t, se.Problems[0].Reason, "more than one document")
}

// A WfFormat id longer than Foresight's 256-byte limit (WfCommons' Nextflow tracer writes
// ids of 200 bytes and more) is shortened consistently: the instance imports and its
// dependencies still resolve.
func TestWfFormatLongIDsAreShortenedConsistently(t *testing.T) {
	t.Parallel()
	long := "NFCORE_SAREK:SAREK:BAM_VARIANT_CALLING_GERMLINE_ALL:BAM_VARIANT_CALLING_HAPLOTYPECALLER:GATK4_HAPLOTYPECALLER__HG00096__ID" +
		strings.Repeat("4374501449566023848745004454235242730706338861786424872851541212819905998398751846447026354046107648", 2)
	other := long[:len(long)-1] + "9"
	w := mustParse(t, fmt.Sprintf(`{"name": "sarek", "schemaVersion": "1.6", "workflow": {
	  "specification": {"tasks": [
	    {"name": %[1]q, "id": %[1]q, "parents": [], "children": [%[2]q]},
	    {"name": %[2]q, "id": %[2]q, "parents": [%[1]q], "children": []}]},
	  "execution": {"tasks": [{"id": %[1]q, "runtimeInSeconds": 11.1}, {"id": %[2]q, "runtimeInSeconds": 11.1}]}}}`, long, other))
	require.Len(t, w.Tasks, 2)
	for _, tk := range w.Tasks {
		require.LessOrEqual(t, len(tk.ID), 256)
		require.Equal(t, "NFCORE_SAREK:SAREK:BAM_VARIANT_CALLING_GERMLINE_ALL:BAM_VARIANT_CALLING_HAPLOTYPECALLER:GATK4_HAPLOTYPECALLER", tk.Category)
	}
	require.NotEqual(t, w.Tasks[0].ID, w.Tasks[1].ID, "ids that differ only past the cut stay apart")
	require.Equal(t, []string{w.Tasks[0].ID}, w.Tasks[1].DependsOn)
}
