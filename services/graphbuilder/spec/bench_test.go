package spec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// nativeLayered writes a native JSON spec of n tasks in layers of width, each depending on
// 4 tasks of the previous layer (the first extra tasks on 5), like dag's benchmark graph.
func nativeLayered(n, width, extra int) []byte {
	rng := rand.New(rand.NewPCG(42, 1))
	var b bytes.Buffer
	b.WriteString(`{"name": "bench", "tasks": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"id": "t%06d", "command": ["work", "--chunk", "%d"], "cpu": %d, "memory": "%dMi", "estimated_seconds": %d`,
			i, i, 1+rng.IntN(4), 256*(1+rng.IntN(8)), 1+rng.IntN(100))
		if layer := i / width; layer > 0 {
			k := 4
			if i-width < extra {
				k = 5
			}
			b.WriteString(`, "depends_on": [`)
			for j, p := range rng.Perm(width)[:k] {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, `"t%06d"`, (layer-1)*width+p)
			}
			b.WriteString("]")
		}
		b.WriteString("}")
	}
	b.WriteString("]}")
	return b.Bytes()
}

// BenchmarkParseNative100k parses and validates a 100,000-task, 400,000-edge native JSON
// spec: decoding, field checks and the graph checks a submission goes through.
func BenchmarkParseNative100k(b *testing.B) {
	const n = 100_000
	data := nativeLayered(n, 1_000, 4_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		w, err := Parse(data, DefaultLimits())
		if err != nil || len(w.Tasks) != n {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/task")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/n, "B/task")
}

// BenchmarkParseWfFormatTrace imports the largest shared trace (bwa medium, 1,004 tasks,
// 2.6 MB) to give the per-task cost of WfFormat import.
func BenchmarkParseWfFormatTrace(b *testing.B) {
	shared := sharedDir(b)
	data, err := os.ReadFile(filepath.Join(shared, "traces", "makeflow", "bwa", "bwa-chameleon-medium-001.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		w, err := Parse(data, DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		n = len(w.Tasks)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/task")
}
