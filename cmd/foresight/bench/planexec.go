package bench

import (
	"fmt"
	"sort"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// planVM is one running interval of a machine in a plan.
type planVM struct {
	typ       catalog.InstanceType
	tier      string
	requestAt float64
	// resumes indexes the plan VM this one restarts after a stop, or -1.
	resumes int
}

// execPlan is a plan as the simulator executes it: VMs to request, and for every task its
// VM and planned start (the order on that VM).
type execPlan struct {
	vms           []planVM
	vmOf          []int
	start, finish []float64
	// Predicted makespan and cost, as the planner reported them.
	makespan, cost float64
}

// planExecutor follows a plan against the true runtimes. Each plan VM is requested from its
// planned tier at its planned time, or as soon as one of its tasks is runnable if that
// comes first (the dispatcher does not let a task wait on a plan that was too
// pessimistic); every task runs on its planned VM, the earliest
// planned first among those runnable, later ones backfilling when they fit; a VM is
// released when all its tasks are done. A machine the plan stops and resumes is simply
// kept running when its first interval is still busy at the planned restart.
type planExecutor struct {
	plan *execPlan
	// simOf maps plan VM → simulator VM (-1 before its request).
	simOf []int
	// queue is each plan VM's tasks in planned order.
	queue  [][]int
	left   []int
	merged []bool
	init   bool
}

func newPlanExecutor(p *execPlan, n int) (*planExecutor, error) {
	if len(p.vmOf) != n {
		return nil, fmt.Errorf("plan places %d of %d tasks", len(p.vmOf), n)
	}
	e := &planExecutor{plan: p, simOf: make([]int, len(p.vms)), queue: make([][]int, len(p.vms)),
		left: make([]int, len(p.vms)), merged: make([]bool, len(p.vms))}
	for i := range e.simOf {
		e.simOf[i] = -1
	}
	for t, v := range p.vmOf {
		if v < 0 || v >= len(p.vms) {
			return nil, fmt.Errorf("task %d placed on VM %d of %d", t, v, len(p.vms))
		}
		e.queue[v] = append(e.queue[v], t)
		e.left[v]++
	}
	for v := range e.queue {
		q := e.queue[v]
		sort.SliceStable(q, func(a, b int) bool { return p.start[q[a]] < p.start[q[b]] })
	}
	return e, nil
}

func (e *planExecutor) step(s *sim) error {
	if !e.init {
		e.init = true
		for i := range e.plan.vms {
			s.wake(max(e.plan.vms[i].requestAt, 0))
		}
	}
	// Request every VM whose time has come.
	for i, pv := range e.plan.vms {
		if e.simOf[i] >= 0 || e.merged[i] || (pv.requestAt > s.now && !e.hasRunnable(s, i)) {
			continue
		}
		if r := pv.resumes; r >= 0 && r < len(e.plan.vms) {
			prev := e.simOf[r]
			if prev < 0 || !s.vms[prev].released() {
				// The first interval is still busy (or not even requested): keep that machine
				// running instead of stopping and restarting it.
				e.merged[i] = true
				if prev >= 0 {
					e.simOf[i] = prev
					e.left[r] += e.left[i]
				}
				continue
			}
			v := s.request(pv.typ, pv.tier, s.now)
			v.standbyFrom = s.vms[prev].releaseAt
			e.simOf[i] = v.id
			continue
		}
		v := s.request(pv.typ, pv.tier, s.now)
		if pv.tier == events.TierHot {
			v.hotFrom = v.requestAt
		}
		if pv.tier == events.TierWarm {
			v.standbyFrom = 0 // a stopped VM the pool kept for this workflow since submission
		}
		e.simOf[i] = v.id
	}
	// A merged VM whose first interval got requested later adopts it now.
	for i := range e.plan.vms {
		if e.merged[i] && e.simOf[i] < 0 {
			if prev := e.simOf[e.plan.vms[i].resumes]; prev >= 0 {
				e.simOf[i] = prev
				e.left[e.plan.vms[i].resumes] += e.left[i]
			}
		}
	}
	for i := range e.plan.vms {
		id := e.simOf[i]
		if id < 0 {
			continue
		}
		v := s.vms[id]
		if !v.ready || v.released() {
			continue
		}
		for _, t := range e.queue[i] {
			if s.runnable[t] && v.fits(&s.tr.Tasks[t]) {
				s.place(t, v)
			}
		}
	}
	// Release VMs with nothing left to run.
	for i := range e.plan.vms {
		id := e.simOf[i]
		if id < 0 || e.merged[i] {
			continue
		}
		v := s.vms[id]
		if !v.ready || v.released() || v.running > 0 {
			continue
		}
		if e.remaining(s, i) == 0 {
			s.release(v)
		}
	}
	return nil
}

// hasRunnable reports whether a task planned on VM i is runnable now: the plan's timing
// was too pessimistic, and waiting for the planned request time would only idle the task.
func (e *planExecutor) hasRunnable(s *sim, i int) bool {
	for _, t := range e.queue[i] {
		if s.runnable[t] {
			return true
		}
	}
	return false
}

// remaining counts tasks not yet started on plan VM i, including those of merged resumes.
func (e *planExecutor) remaining(s *sim, i int) int {
	n := 0
	for _, t := range e.queue[i] {
		if !s.started[t] {
			n++
		}
	}
	for j := range e.plan.vms {
		if e.merged[j] && e.plan.vms[j].resumes == i {
			if e.simOf[j] < 0 {
				n++ // its request time has not come: hold the machine
				continue
			}
			n += e.remaining(s, j)
		}
	}
	return n
}

// hotAtStart reports whether the plan uses a VM that is running before the workflow.
func (p *execPlan) hotAtStart() bool {
	for _, v := range p.vms {
		if v.tier == events.TierHot && v.requestAt <= 0 && v.resumes < 0 {
			return true
		}
	}
	return false
}
