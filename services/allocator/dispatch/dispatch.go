package dispatch

import (
	"cmp"
	"container/heap"
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
	// A pending task is ready when every parent is known and succeeded, so only tasks
	// past pending need looking up by id; in a wide stage that is a small share. Failure
	// propagation needs every task, but only when something failed.
	failed := slices.ContainsFunc(tasks, func(t Task) bool { return t.State == Failed || t.State == UpstreamFailed })
	byID := make(map[string]*Task)
	for i := range tasks {
		if failed || tasks[i].State != Pending {
			byID[tasks[i].ID] = &tasks[i]
		}
	}
	var d Decision

	// Propagate permanent failure to descendants, in as many passes as the depth needs.
	for changed := failed; changed; {
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
	const eps = 1e-9
	fits := func(r room, t *Task) bool { return r.cores+eps >= t.CPU && r.mem >= t.MemoryBytes }
	if len(ready) == 0 {
		return d
	}
	// Ready tasks are taken in priority order (ties by id) until no room can hold even the
	// least demanding of them. A wide stage keeps thousands ready while a finish frees
	// room for a few, so they come off a heap instead of being sorted on every call, and
	// the walk stops once the rooms are full; the assignments are the same as a full sort
	// and walk would make.
	least := Task{CPU: ready[0].CPU, MemoryBytes: ready[0].MemoryBytes}
	for _, t := range ready {
		least.CPU, least.MemoryBytes = min(least.CPU, t.CPU), min(least.MemoryBytes, t.MemoryBytes)
	}
	roomLeft := func() bool {
		return slices.ContainsFunc(rooms, func(r room) bool { return fits(r, &least) })
	}
	q := &byPriority{ready}
	heap.Init(q)
	for q.Len() > 0 && roomLeft() {
		t := heap.Pop(q).(*Task)
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

// byPriority is a heap of ready tasks, highest priority first, ties by id.
type byPriority struct{ ts []*Task }

func (h *byPriority) Len() int { return len(h.ts) }
func (h *byPriority) Less(i, j int) bool {
	return cmp.Or(cmp.Compare(h.ts[j].Priority, h.ts[i].Priority), cmp.Compare(h.ts[i].ID, h.ts[j].ID)) < 0
}
func (h *byPriority) Swap(i, j int) { h.ts[i], h.ts[j] = h.ts[j], h.ts[i] }
func (h *byPriority) Push(x any)    { h.ts = append(h.ts, x.(*Task)) }
func (h *byPriority) Pop() any {
	t := h.ts[len(h.ts)-1]
	h.ts = h.ts[:len(h.ts)-1]
	return t
}
