package planner

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkPlan asserts what every plan must satisfy: each task placed once on a VM of the
// plan, after its parents, for its duration, inside the VM's run; no VM ever over its cores
// or memory; VMs ready their tier's latency after their request; the quotas held at every
// instant; and Cost agreeing with the reported cost.
func checkPlan(t *testing.T, in Input, p Plan) {
	t.Helper()
	const tol = 1e-6
	require.Len(t, p.Placements, len(in.Tasks))
	fixed := map[int32]bool{}
	for _, f := range in.Fixed {
		fixed[f.Task] = true
	}
	mem := memoryFactor(in.Knobs.MemoryHeadroom)
	for i, pl := range p.Placements {
		require.Equal(t, int32(i), pl.Task)
		require.GreaterOrEqual(t, pl.VM, 0, "task %d unplaced", i)
		require.Less(t, pl.VM, len(p.VMs))
		vm := p.VMs[pl.VM]
		for _, par := range in.Tasks[i].Parents {
			require.GreaterOrEqual(t, pl.Start+tol, p.Placements[par].Finish, "task %d starts before parent %d ends", i, par)
		}
		if fixed[int32(i)] {
			continue
		}
		require.InDelta(t, in.Tasks[i].Duration, pl.Finish-pl.Start, tol)
		require.GreaterOrEqual(t, pl.Start+tol, in.Now)
		require.GreaterOrEqual(t, pl.Start+tol, vm.ReadyAt, "task %d before VM %d is ready", i, pl.VM)
		require.LessOrEqual(t, pl.Finish, vm.ReleaseAt+tol, "task %d after VM %d is released", i, pl.VM)
	}
	type ev struct {
		t          float64
		cpu, mem   float64
		vm         int
		cores, vms float64
	}
	var evs []ev
	for i, pl := range p.Placements {
		if fixed[int32(i)] || pl.Finish <= pl.Start {
			continue
		}
		c, m := in.Tasks[i].CPU, float64(in.Tasks[i].MemoryBytes)*mem
		evs = append(evs, ev{t: pl.Start, cpu: c, mem: m, vm: pl.VM}, ev{t: pl.Finish, cpu: -c, mem: -m, vm: pl.VM})
	}
	keys := map[string]bool{}
	for k, v := range p.VMs {
		require.False(t, keys[v.Key], "VM key %q repeats", v.Key)
		keys[v.Key] = true
		if lat := latencyOf(in, v); v.Resumes >= 0 || v.PoolVMID == "" || v.Tier != "hot" {
			require.InDelta(t, lat, v.ReadyAt-v.RequestAt, tol, "VM %d ready %v after request", k, v.ReadyAt-v.RequestAt)
		}
		require.GreaterOrEqual(t, v.ReleaseAt+tol, v.ReadyAt)
		evs = append(evs, ev{t: v.RequestAt, vm: -1, cores: v.Cores, vms: 1}, ev{t: v.ReleaseAt, vm: -1, cores: -v.Cores, vms: -1})
	}
	// Ends before starts at the same instant.
	sort.SliceStable(evs, func(a, b int) bool {
		if evs[a].t != evs[b].t {
			return evs[a].t < evs[b].t
		}
		return evs[a].cpu+evs[a].cores < evs[b].cpu+evs[b].cores
	})
	usedCPU := make([]float64, len(p.VMs))
	usedMem := make([]float64, len(p.VMs))
	cores, vms := 0.0, 0.0
	q := in.Catalog.Quotas
	for _, e := range evs {
		if e.vm >= 0 {
			usedCPU[e.vm] += e.cpu
			usedMem[e.vm] += e.mem
			require.LessOrEqual(t, usedCPU[e.vm], p.VMs[e.vm].Cores+tol, "VM %d over its cores at %v", e.vm, e.t)
			require.LessOrEqual(t, usedMem[e.vm], float64(p.VMs[e.vm].MemoryBytes)+1, "VM %d over its memory at %v", e.vm, e.t)
			continue
		}
		cores += e.cores
		vms += e.vms
	}
	// Quotas hold from ready to release (requests for VMs needed later may overlap the
	// last seconds of VMs being released; see doc.go).
	n, c := concurrent(p)
	if q.MaxVMs > 0 {
		require.LessOrEqual(t, n, q.MaxVMs, "more VMs than the quota at once")
	}
	if q.MaxCores > 0 {
		require.LessOrEqual(t, c, q.MaxCores+tol, "more cores than the quota at once")
	}
	require.InDelta(t, Cost(p, in.Catalog), p.Cost, 1e-9)
}

func latencyOf(in Input, v VM) float64 {
	typ, ok := in.Catalog.Type(v.InstanceType)
	if !ok {
		return 0
	}
	switch v.Tier {
	case "warm":
		return typ.Warm.MeanSeconds
	case "cold":
		return typ.Cold.MeanSeconds
	}
	return 0
}

// concurrent returns the most VMs and cores the plan has running (ready to release) at
// once.
func concurrent(p Plan) (vms int, cores float64) {
	type ev struct {
		t     float64
		d     int
		cores float64
	}
	var evs []ev
	for _, v := range p.VMs {
		if v.ReleaseAt <= v.ReadyAt {
			continue
		}
		evs = append(evs, ev{v.ReadyAt, 1, v.Cores}, ev{v.ReleaseAt, -1, -v.Cores})
	}
	sort.Slice(evs, func(a, b int) bool {
		if evs[a].t != evs[b].t {
			return evs[a].t < evs[b].t
		}
		return evs[a].d < evs[b].d
	})
	n, c := 0, 0.0
	for _, e := range evs {
		n += e.d
		c += e.cores
		vms, cores = max(vms, n), max(cores, c)
	}
	return vms, cores
}
