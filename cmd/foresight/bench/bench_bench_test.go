package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// BenchmarkRun measures a whole bench run (every policy, predictions) on the small real
// traces; run with -bench. The full trace set is `make bench`.
func BenchmarkRun(b *testing.B) {
	trs, _, err := LoadDir("testdata/real")
	require.NoError(b, err)
	tasks := 0
	for _, tr := range trs {
		tasks += len(tr.Tasks)
	}
	cat := catalog.Default()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(Options{Traces: trs, Catalog: cat, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tasks), "ns/task")
}

// BenchmarkReplayer measures the predictor's replay of one finished workflow under the 17
// actions it did not play (Replayer), on the largest of the small real traces.
// ns/task-action is per task per action.
func BenchmarkReplayer(b *testing.B) {
	trs, _, err := LoadDir("testdata/real")
	require.NoError(b, err)
	tr := trs[0]
	for _, t := range trs {
		if len(t.Tasks) > len(tr.Tasks) {
			tr = t
		}
	}
	r := replayOf(tr)
	r.Actions = r.Actions[1:]
	replay := Replayer(catalog.Default())
	for b.Loop() {
		if _, err := replay(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(tr.Tasks)), "tasks")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tr.Tasks)*len(r.Actions)), "ns/task-action")
}
