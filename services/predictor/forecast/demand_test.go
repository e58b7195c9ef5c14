package forecast

import (
	"testing"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/stretchr/testify/require"
)

// diamond: a(2 cores, 10 s | P90 20 s) → b(1 core, 5 s | 5 s) and c(1 core, 20 s | 30 s) → d(2 cores, 10 s | 10 s).
func diamond() []TaskDemand {
	return []TaskDemand{
		{CPU: 2, MemoryBytes: 100, P50: 10, P90: 20},
		{Parents: []int32{0}, CPU: 1, MemoryBytes: 10, P50: 5, P90: 5},
		{Parents: []int32{0}, CPU: 1, MemoryBytes: 20, P50: 20, P90: 30},
		{Parents: []int32{1, 2}, CPU: 2, MemoryBytes: 50, P50: 10, P90: 10},
	}
}

func TestDemandDiamondHandComputed(t *testing.T) {
	t.Parallel()
	c := Demand(diamond(), nil)
	// P50 schedule: a [0,10), b [10,15), c [10,30), d [30,40).
	// P90 schedule: a [0,20), b [20,25), c [20,50), d [50,60).
	// Envelope at each breakpoint of either schedule.
	want := []events.DemandPoint{
		{OffsetSeconds: 0, Cores: 2, CoresP90: 2, MemoryBytes: 100, MemoryBytesP90: 100},
		{OffsetSeconds: 10, Cores: 2, CoresP90: 2, MemoryBytes: 30, MemoryBytesP90: 100},
		{OffsetSeconds: 15, Cores: 1, CoresP90: 2, MemoryBytes: 20, MemoryBytesP90: 100},
		{OffsetSeconds: 20, Cores: 1, CoresP90: 2, MemoryBytes: 20, MemoryBytesP90: 30},
		{OffsetSeconds: 25, Cores: 1, CoresP90: 1, MemoryBytes: 20, MemoryBytesP90: 20},
		{OffsetSeconds: 30, Cores: 2, CoresP90: 2, MemoryBytes: 50, MemoryBytesP90: 50},
		{OffsetSeconds: 40, Cores: 0, CoresP90: 1, MemoryBytes: 0, MemoryBytesP90: 20},
		{OffsetSeconds: 50, Cores: 0, CoresP90: 2, MemoryBytes: 0, MemoryBytesP90: 50},
		{OffsetSeconds: 60, Cores: 0, CoresP90: 0, MemoryBytes: 0, MemoryBytesP90: 0},
	}
	require.Equal(t, want, c.Points)
	require.InDelta(t, 40, c.MakespanP50, 1e-9)
	require.InDelta(t, 60, c.MakespanP90, 1e-9)
}

func TestContention(t *testing.T) {
	t.Parallel()
	c := Demand(diamond(), []int32{0, 2, 1, 3})
	tests := []struct {
		name  string
		cores float64
		mem   int64
		want  []events.Window
	}{
		{name: "unlimited", cores: 0, mem: 0, want: nil},
		{name: "ample", cores: 4, mem: 1000, want: nil},
		{
			name: "one core", cores: 1, mem: 0,
			want: []events.Window{
				{StartSeconds: 0, EndSeconds: 15, Cores: 2, CapacityCores: 1, Reason: "cores demand over capacity at p50"},
				{StartSeconds: 15, EndSeconds: 25, Cores: 2, CapacityCores: 1, Reason: "cores demand over capacity at p90"},
				{StartSeconds: 30, EndSeconds: 40, Cores: 2, CapacityCores: 1, Reason: "cores demand over capacity at p50"},
				{StartSeconds: 50, EndSeconds: 60, Cores: 2, CapacityCores: 1, Reason: "cores demand over capacity at p90"},
			},
		},
		{
			name: "memory quota", cores: 0, mem: 60,
			want: []events.Window{
				{StartSeconds: 0, EndSeconds: 10, Cores: 2, Reason: "memory demand over capacity at p50"},
				{StartSeconds: 10, EndSeconds: 20, Cores: 2, Reason: "memory demand over capacity at p90"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Contention(c, tc.cores, tc.mem))
		})
	}
}

func TestDemandEmptyAndBadParents(t *testing.T) {
	t.Parallel()
	require.Empty(t, Demand(nil, nil).Points)
	c := Demand([]TaskDemand{{Parents: []int32{5, -1}, CPU: 1, P50: 3, P90: 4}}, nil)
	require.InDelta(t, 3, c.MakespanP50, 1e-9)
	require.InDelta(t, 4, c.MakespanP90, 1e-9)
}
