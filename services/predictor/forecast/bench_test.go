package forecast

import (
	"testing"
)

// BenchmarkDemand measures the demand simulation on a 1000-task fan-out/fan-in graph, the
// size of the largest traces.
func BenchmarkDemand(b *testing.B) {
	tasks := make([]TaskDemand, 1002)
	tasks[0] = TaskDemand{CPU: 1, MemoryBytes: 1 << 30, P50: 80, P90: 90}
	for i := 1; i <= 1000; i++ {
		tasks[i] = TaskDemand{Parents: []int32{0}, CPU: 1, MemoryBytes: 12 << 20, P50: float64(1 + i%7), P90: float64(2 + i%11)}
	}
	all := make([]int32, 1000)
	for i := range all {
		all[i] = int32(i + 1)
	}
	tasks[1001] = TaskDemand{Parents: all, CPU: 1, MemoryBytes: 5 << 20, P50: 50, P90: 60}
	for b.Loop() {
		c := Demand(tasks, nil)
		_ = Contention(c, 96, 64<<30)
	}
}

// BenchmarkSelectByBacktest measures choosing between the two models on five weeks of
// hourly data.
func BenchmarkSelectByBacktest(b *testing.B) {
	s := synth(24*7*5, 2, 0, []float64{24, 168}, []float64{4, 8}, 0.5, 0)
	for b.Loop() {
		if _, _, err := SelectByBacktest(s, []Forecaster{NewHoltWinters(24), NewProphetLike([]float64{24, 168}, 3, 4)}, 24, 4); err != nil {
			b.Fatal(err)
		}
	}
}
