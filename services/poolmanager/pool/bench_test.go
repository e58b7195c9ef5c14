package pool

import (
	"fmt"
	"testing"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

func BenchmarkScaleIn(b *testing.B) {
	it, _ := catalog.Default().Type("m7i.large")
	vm := IdleVM{SinceStartSeconds: 600}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = ScaleIn(vm, float64(i%200), it, 60)
	}
}

func BenchmarkFallback(b *testing.B) {
	cat := catalog.Default()
	req := Request{Option: Option{TierCold, "m7i.large"}, Cores: 2, MemoryBytes: 4 * catalog.GiB,
		Warm: map[string]int{"r7i.large": 1}, HotIdle: map[string]int{"m7i.2xlarge": 1}}
	open := OpenSet{{TierCold, "m7i.large"}: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Fallback(req, cat, open); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTargets(b *testing.B) {
	cat := catalog.Default()
	demand := map[string][]events.DemandPoint{}
	for _, it := range cat.Types {
		pts := make([]events.DemandPoint, 100)
		for i := range pts {
			pts[i] = events.DemandPoint{OffsetSeconds: float64(i * 10), Cores: float64(i % 17), CoresP90: float64(i%17 + 2)}
		}
		demand[it.Name] = pts
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := Targets(demand, cat, TargetOptions{UseP90: true}); len(got) != len(cat.Types) {
			b.Fatal(fmt.Sprint(len(got)))
		}
	}
}
