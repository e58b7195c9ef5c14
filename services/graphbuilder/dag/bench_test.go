package dag

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/foresight-run/foresight/pkg/events"
)

// LayeredDAG generates a deterministic layered workflow like the WfCommons ones: layers of
// width tasks, each task depending on 4 distinct tasks of the previous layer, the first
// extra tasks on a fifth, shuffled so that input order is not topological. With n =
// 100,000, width = 1,000 and extra = 4,000 it has exactly 400,000 edges.
func layeredDAG(n, width, extra int, seed uint64) ([]events.Task, []float64, []float64, []int64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%06d", i)
	}
	tasks := make([]events.Task, n)
	durations := make([]float64, n)
	cpu := make([]float64, n)
	mem := make([]int64, n)
	for i := range tasks {
		tasks[i] = events.Task{ID: ids[i], CPU: 1, MemoryBytes: 256 << 20}
		durations[i] = 1 + rng.Float64()*100
		cpu[i] = float64(1 + rng.IntN(4))
		mem[i] = int64(1+rng.IntN(8)) << 28
		layer := i / width
		if layer == 0 {
			continue
		}
		k := 4
		if i-width < extra {
			k = 5
		}
		base := (layer - 1) * width
		deps := make([]string, 0, k)
		for _, p := range rng.Perm(width)[:k] {
			deps = append(deps, ids[base+p])
		}
		tasks[i].DependsOn = deps
	}
	perm := rng.Perm(n)
	shuffled := make([]events.Task, n)
	sd, sc, sm := make([]float64, n), make([]float64, n), make([]int64, n)
	for to, from := range perm {
		shuffled[to], sd[to], sc[to], sm[to] = tasks[from], durations[from], cpu[from], mem[from]
	}
	return shuffled, sd, sc, sm
}

func TestLayeredDAGShape(t *testing.T) {
	t.Parallel()
	tasks, d, _, _ := layeredDAG(10_000, 100, 400, 1)
	g, problems := New(tasks)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if g.Edges() != 40_000 {
		t.Fatalf("edges = %d, want 40000", g.Edges())
	}
	if a := Analyze(g, d, nil, nil); a.Levels != 100 || a.PeakWidth < 100 {
		t.Fatalf("levels %d peak width %d", a.Levels, a.PeakWidth)
	}
}

// BenchmarkBuildAnalyze100k builds and analyses a 100,000-task, 400,000-edge DAG: the
// issue's target is ≤ 1 s and ≤ 1 KiB of heap per task.
func BenchmarkBuildAnalyze100k(b *testing.B) {
	const n = 100_000
	tasks, durations, cpu, mem := layeredDAG(n, 1_000, 4_000, 42)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	var a Analysis
	for b.Loop() {
		g, problems := New(tasks)
		if len(problems) > 0 || g.Edges() != 400_000 {
			b.Fatalf("problems %v edges %d", problems, g.Edges())
		}
		a = Analyze(g, durations, cpu, mem)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/task")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/n, "B/task")
	if a.CriticalPathSeconds <= 0 {
		b.Fatal("no critical path")
	}
}

// BenchmarkLiveHeap100k reports the heap the built graph and its analysis keep alive per
// task (what a service holds while a workflow is in flight).
func BenchmarkLiveHeap100k(b *testing.B) {
	const n = 100_000
	tasks, durations, cpu, mem := layeredDAG(n, 1_000, 4_000, 42)
	var live float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g, _ := New(tasks)
		a := Analyze(g, durations, cpu, mem)
		runtime.GC()
		runtime.ReadMemStats(&after)
		live = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		runtime.KeepAlive(g)
		runtime.KeepAlive(a)
	}
	b.ReportMetric(live, "live-B/task")
}
