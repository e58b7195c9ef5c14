package bench

import (
	"encoding/json"
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
	trs, err := LoadDir("testdata/tiny")
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
	for _, seed := range []uint64{1, 2, 3} {
		res := runTiny(t, f, seed)
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
}
