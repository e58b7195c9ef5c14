package dispatch

import (
	"cmp"
	"slices"
)

// State of a task in dispatch.
type State string

// Task states.
const (
	Pending        State = "pending"
	Dispatched     State = "dispatched"
	Succeeded      State = "succeeded"
	Failed         State = "failed"
	UpstreamFailed State = "upstream_failed"
)

// Terminal reports whether a task in state s will not change again.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == UpstreamFailed }

// Task is one task's dispatch state.
type Task struct {
	ID          string
	State       State
	Parents     []string
	CPU         float64
	MemoryBytes int64
	Priority    float64
	// PlannedVM is the VM key the plan placed the task on ("" if none).
	PlannedVM string
	// VM is where a dispatched task runs.
	VM string
}

// VM is a ready VM and its size.
type VM struct {
	ID          string
	Key         string
	Cores       float64
	MemoryBytes int64
}

// Assignment starts Task on VM.
type Assignment struct {
	Task string
	VM   string
}

// Decision is what to do now.
type Decision struct {
	Start []Assignment
	// Blocked lists tasks that can never run because an ancestor failed.
	Blocked []string
}

// Decide returns the tasks to start now on vms, given every task's state. It is pure and
// deterministic: ties are broken by task id and VM id.
func Decide(tasks []Task, vms []VM) Decision {
	byID := make(map[string]*Task, len(tasks))
	for i := range tasks {
		byID[tasks[i].ID] = &tasks[i]
	}
	var d Decision

	// Propagate permanent failure to descendants, in as many passes as the depth needs.
	for changed := true; changed; {
		changed = false
		for i := range tasks {
			t := &tasks[i]
			if t.State != Pending {
				continue
			}
			for _, p := range t.Parents {
				if pt, ok := byID[p]; ok && (pt.State == Failed || pt.State == UpstreamFailed) {
					t.State = UpstreamFailed
					d.Blocked = append(d.Blocked, t.ID)
					changed = true
					break
				}
			}
		}
	}

	// Free room per VM after what is already running.
	type room struct {
		vm    VM
		cores float64
		mem   int64
	}
	rooms := make([]room, len(vms))
	idx := make(map[string]int, len(vms))
	byKey := make(map[string]int, len(vms))
	for i, v := range vms {
		rooms[i] = room{vm: v, cores: v.Cores, mem: v.MemoryBytes}
		idx[v.ID] = i
		byKey[v.Key] = i
	}
	for _, t := range tasks {
		if t.State == Dispatched {
			if i, ok := idx[t.VM]; ok {
				rooms[i].cores -= t.CPU
				rooms[i].mem -= t.MemoryBytes
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
				break
			}
		}
		if ok {
			ready = append(ready, t)
		}
	}
	slices.SortFunc(ready, func(a, b *Task) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.ID, b.ID))
	})

	const eps = 1e-9
	fits := func(r room, t *Task) bool { return r.cores+eps >= t.CPU && r.mem >= t.MemoryBytes }
	for _, t := range ready {
		best := -1
		if i, ok := byKey[t.PlannedVM]; ok && t.PlannedVM != "" && fits(rooms[i], t) {
			best = i
		} else {
			for i := range rooms {
				if !fits(rooms[i], t) {
					continue
				}
				if best < 0 || rooms[i].cores < rooms[best].cores ||
					(rooms[i].cores == rooms[best].cores && rooms[i].vm.ID < rooms[best].vm.ID) {
					best = i
				}
			}
		}
		if best < 0 {
			continue
		}
		rooms[best].cores -= t.CPU
		rooms[best].mem -= t.MemoryBytes
		d.Start = append(d.Start, Assignment{Task: t.ID, VM: rooms[best].vm.ID})
	}
	return d
}
