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
	// warmMember is the warm-pool member this VM starts, or -1.
	warmMember int
	// held is 1 + the id of the simulator VM a re-plan kept (one the workflow already
	// holds), 0 for a VM still to request.
	held int
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

// Drift rules, as the monitor applies them: a task that finishes (or is still running)
// more than max(DriftMinSeconds, DriftFraction × its planned duration) away from its
// planned finish, or is runnable that much before its planned start, asks for a re-plan; re-plans are at least ReplanGapSeconds apart and at
// most MaxReplans per workflow, so a noisy workflow cannot make the allocator thrash.
const (
	DriftMinSeconds  = 30.0
	DriftFraction    = 0.5
	ReplanGapSeconds = 15.0
	MaxReplans       = 12
)

// adaptation is how an execution learns and re-plans while it runs: the monitor feeding
// finished tasks to the predictor, and the allocator re-planning the unfinished part.
type adaptation struct {
	// observe is called when a task finishes.
	observe func(task int)
	// replan plans the unstarted tasks at s.now, keeping what started where it runs.
	replan func(s *sim) (*execPlan, error)
}

// planExecutor follows a plan against the true runtimes. Each plan VM is requested from its
// planned tier at its planned time, or as soon as one of its tasks is runnable if that
// comes first (the dispatcher does not let a task wait on a plan that was too
// pessimistic); every task runs on its planned VM, the earliest planned first among those
// runnable, later ones backfilling when they fit; a VM is released when all its tasks are
// done. A machine the plan stops and resumes is simply kept running when its first
// interval is still busy at the planned restart. With an adaptation, drift (see the
// constants) re-plans the unstarted tasks through the planner, exactly as the allocator
// does on replan-requested: started tasks stay where they run, VMs the workflow holds are
// offered to the planner, and VMs the new plan does not use are released when idle.
type planExecutor struct {
	plan  *execPlan
	adapt *adaptation
	// simOf maps plan VM → simulator VM (-1 before its request).
	simOf []int
	// queue is each plan VM's unstarted tasks in planned order.
	queue  [][]int
	merged []bool
	init   bool

	seen       []bool
	lastReplan float64
	replans    int
	// firstSimOf is the first plan's VM → simulator VM mapping, kept for the Gantt chart.
	firstSimOf []int
}

func newPlanExecutor(p *execPlan, n int) (*planExecutor, error) {
	e := &planExecutor{seen: make([]bool, n), lastReplan: -ReplanGapSeconds}
	if err := e.load(p, n, nil); err != nil {
		return nil, err
	}
	return e, nil
}

// load makes p the plan being followed; started tasks (per s, when given) are not queued.
func (e *planExecutor) load(p *execPlan, n int, s *sim) error {
	if len(p.vmOf) != n {
		return fmt.Errorf("plan places %d of %d tasks", len(p.vmOf), n)
	}
	e.plan = p
	e.simOf = make([]int, len(p.vms))
	e.queue = make([][]int, len(p.vms))
	e.merged = make([]bool, len(p.vms))
	for i, v := range p.vms {
		e.simOf[i] = v.held - 1
	}
	defer func() {
		// A kept VM that is already gone cannot take new work: the planner only keeps a
		// finished task's machine for the record, so request a fresh one if it has tasks.
		for i, id := range e.simOf {
			if id >= 0 && s != nil && s.vms[id].released() && len(e.queue[i]) > 0 {
				e.simOf[i] = -1
				e.plan.vms[i].held = 0
				e.plan.vms[i].tier = events.TierCold
			}
		}
	}()
	for t, v := range p.vmOf {
		if s != nil && s.started[t] {
			continue
		}
		if v < 0 || v >= len(p.vms) {
			return fmt.Errorf("task %d placed on VM %d of %d", t, v, len(p.vms))
		}
		e.queue[v] = append(e.queue[v], t)
	}
	for v := range e.queue {
		q := e.queue[v]
		sort.SliceStable(q, func(a, b int) bool { return p.start[q[a]] < p.start[q[b]] })
	}
	return nil
}

func (e *planExecutor) step(s *sim) error {
	if !e.init {
		e.init = true
		e.wakeRequests(s)
	}
	if e.adapt != nil {
		if err := e.watch(s); err != nil {
			return err
		}
	}
	e.request(s)
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
				if e.adapt != nil {
					pd := e.plan.finish[t] - e.plan.start[t]
					s.wake(s.now + pd + driftThreshold(pd) + 1e-6)
				}
			}
		}
	}
	e.releaseIdle(s)
	return nil
}

func (e *planExecutor) wakeRequests(s *sim) {
	for i, pv := range e.plan.vms {
		if e.simOf[i] < 0 {
			s.wake(max(pv.requestAt, 0))
		}
	}
}

// request asks for every plan VM whose time has come (or whose task already waits).
func (e *planExecutor) request(s *sim) {
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
				continue
			}
			v := s.request(pv.typ, pv.tier, s.now)
			v.standbyFrom = s.vms[prev].releaseAt
			e.simOf[i] = v.id
			continue
		}
		v := s.request(pv.typ, pv.tier, s.now)
		switch pv.tier {
		case events.TierHot:
			v.hotFrom = v.requestAt
		case events.TierWarm:
			v.standbyFrom = 0 // a stopped VM the pool kept for this workflow since submission
			if wp := s.warm; wp != nil && pv.warmMember >= 0 && pv.warmMember < len(wp.claimed) {
				wp.claimed[pv.warmMember] = true
			}
		}
		e.simOf[i] = v.id
	}
	// A merged interval runs on its first interval's machine once that one exists.
	for i := range e.plan.vms {
		if e.merged[i] && e.simOf[i] < 0 {
			if prev := e.simOf[e.plan.vms[i].resumes]; prev >= 0 {
				e.simOf[i] = prev
			}
		}
	}
}

// releaseIdle releases every idle VM with nothing left to run in the plan.
func (e *planExecutor) releaseIdle(s *sim) {
	needed := make(map[int]bool, len(e.plan.vms))
	for i := range e.plan.vms {
		if id := e.simOf[i]; id >= 0 && e.remaining(s, i) > 0 {
			needed[id] = true
		}
	}
	for _, v := range s.vms {
		if !v.released() && v.running == 0 && !needed[v.id] {
			s.release(v) // a launch no plan needs any more is cancelled
		}
	}
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

// remaining counts tasks not yet started on plan VM i, including those of merged resumes
// and of resumes whose request time has not come (the machine is held for them).
func (e *planExecutor) remaining(s *sim, i int) int {
	n := 0
	for _, t := range e.queue[i] {
		if !s.started[t] {
			n++
		}
	}
	for j := range e.plan.vms {
		if e.merged[j] && e.plan.vms[j].resumes == i {
			n += e.remaining(s, j)
		}
	}
	return n
}

func driftThreshold(plannedDur float64) float64 {
	return max(DriftMinSeconds, DriftFraction*plannedDur)
}

// watch feeds finished tasks to the predictor and re-plans on drift.
func (e *planExecutor) watch(s *sim) error {
	drift := false
	for i := range s.tr.Tasks {
		pd := e.plan.finish[i] - e.plan.start[i]
		thr := driftThreshold(pd)
		if !s.started[i] {
			// Runnable far ahead of plan: its parents beat the forecast. (Sources wait for
			// their VM's latency, which no forecast error explains.)
			if s.runnable[i] && len(s.tr.Tasks[i].Parents) > 0 && e.plan.start[i]-s.now > thr {
				drift = true
			}
			continue
		}
		done := s.doneTask[i]
		if done && !e.seen[i] {
			e.seen[i] = true
			if e.adapt.observe != nil {
				e.adapt.observe(i)
			}
			if d := s.finish[i] - e.plan.finish[i]; d > thr || -d > thr {
				drift = true
			}
		}
		if !done && s.now > e.plan.finish[i]+thr {
			drift = true
		}
	}
	if !drift || e.replans >= MaxReplans || s.now-e.lastReplan < ReplanGapSeconds || s.done == len(s.tr.Tasks) {
		return nil
	}
	unstarted := false
	for i := range s.tr.Tasks {
		if !s.started[i] {
			unstarted = true
			break
		}
	}
	if !unstarted {
		return nil
	}
	if e.firstSimOf == nil {
		e.firstSimOf = append([]int(nil), e.simOf...)
	}
	p, err := e.adapt.replan(s)
	if err != nil {
		return fmt.Errorf("re-plan at %.1f s: %w", s.now, err)
	}
	e.replans++
	e.lastReplan = s.now
	// Started tasks keep their actual times in the plan, so drift is judged on the rest.
	for i := range s.tr.Tasks {
		if s.started[i] {
			p.start[i] = s.start[i]
			if !s.isRunning(i) {
				p.finish[i] = s.finish[i]
			} else {
				p.finish[i] = max(p.finish[i], s.start[i])
			}
		}
	}
	if err := e.load(p, len(s.tr.Tasks), s); err != nil {
		return err
	}
	e.wakeRequests(s)
	return nil
}

// hotAtStart reports whether the plan uses a VM that is running before the workflow.
func (p *execPlan) hotAtStart() bool {
	for _, v := range p.vms {
		if v.tier == events.TierHot && v.requestAt <= 0 && v.resumes < 0 && v.held == 0 {
			return true
		}
	}
	return false
}
