package dispatch

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// sortAndWalk is the assignment rule Decide implements, in its plainest form: every ready
// task in priority order (ties by id), each on its planned VM when it fits there, else on
// the fitting VM with the fewest free cores (ties by id). Decide must agree with it.
func sortAndWalk(tasks []Task, vms []VM) []Assignment {
	byID := map[string]*Task{}
	for i := range tasks {
		byID[tasks[i].ID] = &tasks[i]
	}
	cores := make([]float64, len(vms))
	mem := make([]int64, len(vms))
	for i, v := range vms {
		cores[i], mem[i] = v.Cores, v.MemoryBytes
		for _, t := range tasks {
			if t.State == Dispatched && t.VM == v.ID {
				cores[i] -= t.CPU
				mem[i] -= t.MemoryBytes
			}
		}
	}
	var ready []*Task
	for i := range tasks {
		t := &tasks[i]
		if t.State != Pending {
			continue
		}
		ok := true
		for _, p := range t.Parents {
			if pt, found := byID[p]; !found || pt.State != Succeeded {
				ok = false
			}
		}
		if ok {
			ready = append(ready, t)
		}
	}
	slices.SortFunc(ready, func(a, b *Task) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.ID, b.ID))
	})
	fits := func(i int, t *Task) bool { return cores[i]+1e-9 >= t.CPU && mem[i] >= t.MemoryBytes }
	var out []Assignment
	for _, t := range ready {
		best := -1
		for i, v := range vms {
			if v.Key == t.PlannedVM && t.PlannedVM != "" && fits(i, t) {
				best = i
				break
			}
		}
		if best < 0 {
			for i := range vms {
				if fits(i, t) && (best < 0 || cores[i] < cores[best] || (cores[i] == cores[best] && vms[i].ID < vms[best].ID)) {
					best = i
				}
			}
		}
		if best < 0 {
			continue
		}
		cores[best] -= t.CPU
		mem[best] -= t.MemoryBytes
		out = append(out, Assignment{Task: t.ID, VM: vms[best].ID})
	}
	return out
}

// Decide takes ready tasks off a heap and stops once no room fits the least demanding;
// on random mixes of sizes, priorities (with ties), plans and running tasks it must start
// exactly what sorting every ready task and walking them all would.
func TestDecideAgreesWithSortAndWalk(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for c := range 500 {
		var vms []VM
		for v := range 1 + rng.IntN(5) {
			vms = append(vms, VM{ID: fmt.Sprintf("vm%d", v), Key: fmt.Sprintf("k%d", v), Cores: float64(1 + rng.IntN(8)), MemoryBytes: int64(1+rng.IntN(16)) << 30})
		}
		var tasks []Task
		n := 1 + rng.IntN(60)
		for i := range n {
			tk := Task{ID: fmt.Sprintf("t%03d", i), State: Pending, CPU: float64(1+rng.IntN(4)) / float64(1+rng.IntN(2)),
				MemoryBytes: int64(1+rng.IntN(8)) << 29, Priority: float64(rng.IntN(5))}
			if rng.IntN(3) == 0 {
				tk.PlannedVM = vms[rng.IntN(len(vms))].Key
			}
			switch rng.IntN(8) {
			case 0, 1:
				tk.State = Succeeded
			case 2:
				tk.State, tk.VM = Dispatched, vms[rng.IntN(len(vms))].ID
			case 3:
				if c%2 == 0 { // half the cases have failures to propagate
					tk.State = Failed
				}
			}
			if i > 0 && rng.IntN(4) == 0 {
				tk.Parents = []string{fmt.Sprintf("t%03d", rng.IntN(i))}
			}
			tasks = append(tasks, tk)
		}
		want := sortAndWalk(slices.Clone(tasks), vms)
		got := Decide(slices.Clone(tasks), vms).Start
		require.Equal(t, want, got, "case %d", c)
	}
}

// BenchmarkDecideWideStage is one finish in a 10,000-task stage: one core frees up.
func BenchmarkDecideWideStage(b *testing.B) {
	vms := []VM{{ID: "vm", Key: "k", Cores: 16, MemoryBytes: 64 << 30}}
	tasks := []Task{}
	for i := range 15 {
		tasks = append(tasks, Task{ID: fmt.Sprintf("run%d", i), State: Dispatched, CPU: 1, MemoryBytes: 1 << 30, VM: "vm"})
	}
	for i := range 10_000 {
		tasks = append(tasks, Task{ID: fmt.Sprintf("t%05d", i), State: Pending, CPU: 1, MemoryBytes: 1 << 30, Priority: float64(i % 7)})
	}
	for b.Loop() {
		in := slices.Clone(tasks)
		if d := Decide(in, vms); len(d.Start) != 1 {
			b.Fatalf("started %d", len(d.Start))
		}
	}
}
