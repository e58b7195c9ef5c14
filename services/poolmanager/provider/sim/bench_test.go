package sim_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/sim"
)

// BenchmarkLaunchDescribe measures a launch plus a describe against a sim holding up to
// 1,000 live VMs (quota checks scan them).
func BenchmarkLaunchDescribe(b *testing.B) {
	cat := catalog.Default()
	cat.Quotas = catalog.Quotas{MaxVMs: 1 << 30, MaxCores: 1e12}
	ctx := context.Background()
	var s *sim.Sim
	reset := func() {
		var err error
		s, err = sim.New(sim.Options{Catalog: cat, Clock: clock.NewVirtual(epoch), Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	reset()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			reset()
		}
		vm, err := s.Launch(ctx, provider.Spec{Key: strconv.Itoa(i), InstanceType: "m7i.large"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Describe(ctx, vm.ID); err != nil {
			b.Fatal(err)
		}
	}
}
