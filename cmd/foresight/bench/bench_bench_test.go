package bench

import (
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
