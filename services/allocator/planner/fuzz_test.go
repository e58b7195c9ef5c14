package planner

import (
	"testing"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// FuzzMake builds a DAG from bytes (three per task: cores, duration, a parent offset) and
// checks that every plan keeps the invariants, under a tight quota and a pool.
func FuzzMake(f *testing.F) {
	f.Add([]byte{1, 10, 0, 2, 200, 1, 1, 5, 2, 4, 90, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	cat := catalog.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		n := min(len(data)/3, 60)
		tasks := make([]Task, n)
		for i := 0; i < n; i++ {
			c, d, p := data[3*i], data[3*i+1], data[3*i+2]
			tasks[i] = Task{ID: "f", CPU: float64(1 + c%4), MemoryBytes: int64(1+c%3) << 30, Duration: float64(d)}
			if i > 0 && p%4 != 0 {
				tasks[i].Parents = []int32{int32(i - 1 - int(p)%i)}
			}
		}
		c := cat
		c.Quotas = catalog.Quotas{MaxVMs: 4, MaxCores: 40}
		modes := []string{ModeBalanced, ModeFastest, ModeCheapest}
		mode := ModeBalanced
		if len(data) > 0 {
			mode = modes[int(data[0])%len(modes)]
		}
		in := Input{Tasks: tasks, Catalog: c, Objective: ObjectiveFor(mode, nil, nil, nil, 100, c),
			Pool: []PoolVM{{ID: "w", InstanceType: "c7i.xlarge", Tier: events.TierWarm}}}
		p, err := Make(in)
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, in, p)
	})
}
