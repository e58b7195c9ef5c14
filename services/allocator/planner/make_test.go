package planner

import (
	"testing"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/stretchr/testify/require"
)

func f64(x float64) *float64 { return &x }

// setup returns the default catalog and a balanced objective for it.
func setup(t *testing.T) (catalog.Catalog, Objective) {
	t.Helper()
	cat := catalog.Default()
	return cat, ObjectiveFor(ModeBalanced, nil, nil, nil, 0, cat)
}

// fanOut is a source, width parallel tasks of d seconds, and a sink.
func fanOut(width int, d float64) []Task {
	ts := []Task{{ID: "src", CPU: 1, MemoryBytes: 1 << 30, Duration: d}}
	var mids []int32
	for i := 0; i < width; i++ {
		ts = append(ts, Task{ID: "mid", Parents: []int32{0}, CPU: 1, MemoryBytes: 1 << 30, Duration: d})
		mids = append(mids, int32(len(ts)-1))
	}
	return append(ts, Task{ID: "sink", Parents: mids, CPU: 1, MemoryBytes: 1 << 30, Duration: d})
}

func TestMakeSmoke(t *testing.T) {
	t.Parallel()
	cat, obj := setup(t)
	p, err := Make(Input{Tasks: fanOut(8, 100), Catalog: cat, Objective: obj})
	require.NoError(t, err)
	require.Len(t, p.Placements, 10)
	require.NotEmpty(t, p.VMs)
	require.Greater(t, p.Cost, 0.0)
	require.GreaterOrEqual(t, p.Makespan, 300.0)
	for _, pl := range p.Placements {
		require.GreaterOrEqual(t, pl.VM, 0)
	}
}
