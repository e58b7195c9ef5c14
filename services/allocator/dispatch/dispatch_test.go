package dispatch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	gib := int64(1 << 30)
	vms := []VM{{ID: "vm-a", Key: "ka", Cores: 2, MemoryBytes: 4 * gib}, {ID: "vm-b", Key: "kb", Cores: 4, MemoryBytes: 8 * gib}}
	tests := []struct {
		name        string
		tasks       []Task
		vms         []VM
		wantStart   []Assignment
		wantBlocked []string
	}{
		{
			name:      "only tasks whose parents succeeded start",
			tasks:     []Task{{ID: "a", State: Succeeded}, {ID: "b", State: Pending, Parents: []string{"a"}, CPU: 1}, {ID: "c", State: Pending, Parents: []string{"b"}, CPU: 1}},
			vms:       vms[:1],
			wantStart: []Assignment{{Task: "b", VM: "vm-a"}},
		},
		{
			name: "higher priority first when room is short",
			tasks: []Task{
				{ID: "low", State: Pending, CPU: 2, Priority: 1},
				{ID: "high", State: Pending, CPU: 2, Priority: 9},
			},
			vms:       vms[:1],
			wantStart: []Assignment{{Task: "high", VM: "vm-a"}},
		},
		{
			name: "running tasks use up room",
			tasks: []Task{
				{ID: "run", State: Dispatched, VM: "vm-a", CPU: 1.5},
				{ID: "next", State: Pending, CPU: 1},
			},
			vms: vms[:1],
		},
		{
			name:      "planned VM is preferred",
			tasks:     []Task{{ID: "t", State: Pending, CPU: 1, PlannedVM: "kb"}},
			vms:       vms,
			wantStart: []Assignment{{Task: "t", VM: "vm-b"}},
		},
		{
			name:      "best fit otherwise",
			tasks:     []Task{{ID: "t", State: Pending, CPU: 1}},
			vms:       vms,
			wantStart: []Assignment{{Task: "t", VM: "vm-a"}},
		},
		{
			name:      "memory is respected",
			tasks:     []Task{{ID: "big", State: Pending, CPU: 1, MemoryBytes: 6 * gib}},
			vms:       vms,
			wantStart: []Assignment{{Task: "big", VM: "vm-b"}},
		},
		{
			name: "failure blocks every descendant",
			tasks: []Task{
				{ID: "a", State: Failed},
				{ID: "b", State: Pending, Parents: []string{"a"}},
				{ID: "c", State: Pending, Parents: []string{"b"}},
				{ID: "d", State: Pending, CPU: 1},
			},
			vms:         vms[:1],
			wantStart:   []Assignment{{Task: "d", VM: "vm-a"}},
			wantBlocked: []string{"b", "c"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := Decide(tc.tasks, tc.vms)
			require.Equal(t, tc.wantStart, d.Start)
			require.ElementsMatch(t, tc.wantBlocked, d.Blocked)
		})
	}
}
