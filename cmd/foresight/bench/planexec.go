package bench

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/allocator/dispatch"
	"github.com/foresight-run/foresight/services/poolmanager/pool"
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
	// started and observe are called when a task starts and finishes, with the time.
	started, observe func(task int, at float64)
	// replan plans the unstarted tasks at s.now, keeping what started where it runs.
	replan func(s *sim) (*execPlan, error)
}

// planExecutor follows a plan against the true runtimes, as the allocator and the pool
// manager do in production. Each plan VM is requested from its planned tier at its planned
// time, or as soon as one of its tasks is runnable and still waiting if that comes first
// (the dispatcher does not let a task wait on a plan that was too pessimistic). At every
// instant the ready tasks are dispatched by the allocator's own core, dispatch.Decide:
// in priority order (upward rank), each on its planned VM when that VM is ready and has
// room, else best fit on any ready VM with room. A machine the plan stops and resumes is
// simply kept running when its first interval is still busy at the planned restart.
//
// A VM is released (or its launch cancelled) as soon as it is idle and the plan has nothing
// left for it. With scaleIn, releases follow production's look-ahead scale-in instead:
// when a VM's last running task finishes and dispatch gives it nothing new, the time until
// the plan next needs it (the earliest planned start of the unstarted tasks planned on its
// key) goes to pool.ScaleIn, which keeps it hot, stops it to warm standby (started again
// one warm P90 ahead of the need, same key) or terminates it (relaunched cold one cold P90
// ahead of a remaining need, under a fresh key, as the pool manager derives one). Every VM
// is released when the workflow finishes.
//
// With an adaptation, drift (see the constants) re-plans the unstarted tasks through the
// planner, exactly as the allocator does on replan-requested: started tasks stay where
// they run and VMs the workflow holds are offered to the planner.
type planExecutor struct {
	plan  *execPlan
	adapt *adaptation
	// simOf maps plan VM → simulator VM (-1 before its request).
	simOf []int
	// queue is each plan VM's unstarted tasks in planned order.
	queue  [][]int
	merged []bool
	init   bool

	// priority is each task's dispatch priority: its upward rank on the first plan's
	// durations, written once as the allocator writes task_runs.priority.
	priority []float64
	// parentIDs and index translate between the trace and dispatch's task ids.
	parentIDs [][]string
	index     map[string]int
	// tasks is dispatch's input, reused between instants.
	tasks []dispatch.Task
	// scaleIn selects production's look-ahead scale-in instead of plan-driven releases.
	scaleIn bool
	// cancelUnneeded, with scaleIn, drops the launch of a plan VM none of whose planned
	// tasks is left (Options.CancelUnneededLaunches, production's vm-unneeded).
	cancelUnneeded bool
	// due are the pool manager's scheduled starts of stopped VMs and relaunches.
	due []dueStart
	// scaleIns counts pool.ScaleIn's decisions by action.
	scaleIns map[pool.Action]int

	seen       []bool
	seenStart  []bool
	lastReplan float64
	replans    int
	// firstSimOf is the first plan's VM → simulator VM mapping, kept for the Gantt chart.
	firstSimOf []int
}

// dueStart is a machine the pool manager brings back ahead of a need: a stopped VM started
// again (warm, same key) or a terminated one relaunched (cold, fresh key).
type dueStart struct {
	at   float64
	typ  catalog.InstanceType
	tier string
	// key is the plan's key for the machine, which both keep.
	key string
	// idleKey is the stopped VM's last idle announcement, which its restart keeps.
	idleKey   string
	stoppedAt float64
}

// newPlanExecutor follows p on tr; priority is every task's dispatch priority (upward
// rank), nil for none.
func newPlanExecutor(p *execPlan, tr *Trace, priority []float64) (*planExecutor, error) {
	n := len(tr.Tasks)
	if priority == nil {
		priority = make([]float64, n)
	}
	if len(priority) != n {
		return nil, fmt.Errorf("%d priorities for %d tasks", len(priority), n)
	}
	e := &planExecutor{
		seen: make([]bool, n), seenStart: make([]bool, n), lastReplan: -ReplanGapSeconds, priority: priority,
		parentIDs: make([][]string, n), index: make(map[string]int, n), scaleIns: map[pool.Action]int{},
	}
	for i, t := range tr.Tasks {
		e.index[t.ID] = i
		for _, q := range t.Parents {
			e.parentIDs[i] = append(e.parentIDs[i], tr.Tasks[q].ID)
		}
	}
	if len(e.index) != n {
		return nil, fmt.Errorf("%s: task ids are not unique", tr.Name)
	}
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
	if s.done == len(s.tr.Tasks) {
		e.finish(s)
		return nil
	}
	e.startDue(s)
	if err := e.dispatch(s); err != nil {
		return err
	}
	e.request(s)
	if e.scaleIn {
		e.announceIdle(s)
	} else {
		e.releaseIdle(s)
	}
	return nil
}

// plannedKey is the dispatch key of the VM the plan gives task t: the key of the machine
// serving its plan VM, "" while that VM is not requested (dispatch then places the task
// best fit, as it does for a planned VM that is not provisioned yet).
func (e *planExecutor) plannedKey(s *sim, t int) string {
	pv := e.plan.vmOf[t]
	if pv < 0 || pv >= len(e.simOf) || e.simOf[pv] < 0 {
		return ""
	}
	return s.vms[e.simOf[pv]].key
}

// dispatch starts the ready tasks dispatch.Decide chooses, as the allocator does on every
// vm-provisioned and task-observed. Decide is given the ready VMs, the running tasks (they
// use up room), and the ready tasks with their (succeeded) parents: all its decision
// depends on when no task fails. Ready tasks that fit in no VM's free room are left out,
// and Decide is not called when none fits: such a task can neither start nor take room
// from another, so the decision is the same, and the simulation stays fast.
func (e *planExecutor) dispatch(s *sim) error {
	type room struct {
		cores float64
		mem   int64
	}
	// The free rooms no other VM's room contains: a task fits some VM iff it fits one.
	var frontier []room
	var vms []dispatch.VM
	byID := map[string]*simVM{}
	for _, v := range s.vms {
		if !v.ready || v.released() {
			continue
		}
		id := vmKey(v)
		byID[id] = v
		vms = append(vms, dispatch.VM{ID: id, Key: v.key, Cores: v.typ.Cores, MemoryBytes: v.typ.MemoryBytes})
		r := room{v.freeCores, v.freeMem}
		if r.cores <= 1e-9 {
			continue
		}
		dominated := false
		kept := frontier[:0]
		for _, f := range frontier {
			if f.cores >= r.cores && f.mem >= r.mem {
				dominated = true
			}
			if dominated || f.cores > r.cores || f.mem > r.mem {
				kept = append(kept, f)
			}
		}
		frontier = kept
		if !dominated {
			frontier = append(frontier, r)
		}
	}
	if len(frontier) == 0 {
		return nil
	}
	const slack = 1e-6 // looser than any fit test, so floating error never drops a task
	e.tasks = e.tasks[:0]
	for i := range s.tr.Tasks {
		if !s.runnable[i] {
			continue
		}
		t := &s.tr.Tasks[i]
		fits := false
		for _, f := range frontier {
			if f.cores+slack >= t.CPU && f.mem >= t.Memory {
				fits = true
				break
			}
		}
		if !fits {
			continue
		}
		e.tasks = append(e.tasks, dispatch.Task{
			ID: t.ID, State: dispatch.Pending, Parents: e.parentIDs[i], CPU: t.CPU, MemoryBytes: t.Memory,
			Priority: e.priority[i], PlannedVM: e.plannedKey(s, i),
		})
	}
	if len(e.tasks) == 0 {
		return nil
	}
	parentIn := map[int]bool{}
	for _, dt := range e.tasks {
		for _, q := range s.tr.Tasks[e.index[dt.ID]].Parents {
			parentIn[q] = true
		}
	}
	for i := range s.tr.Tasks {
		t := &s.tr.Tasks[i]
		switch {
		case s.isRunning(i):
			e.tasks = append(e.tasks, dispatch.Task{ID: t.ID, State: dispatch.Dispatched, CPU: t.CPU, MemoryBytes: t.Memory, VM: vmKey(s.vms[s.vmOf[i]])})
		case parentIn[i] && s.doneTask[i]:
			e.tasks = append(e.tasks, dispatch.Task{ID: t.ID, State: dispatch.Succeeded})
		}
	}
	d := dispatch.Decide(e.tasks, vms)
	for _, a := range d.Start {
		i, ok := e.index[a.Task]
		v := byID[a.VM]
		if !ok || v == nil || !s.runnable[i] || !v.fits(&s.tr.Tasks[i]) {
			return fmt.Errorf("dispatch started %s on %s, which the simulator cannot run", a.Task, a.VM)
		}
		s.place(i, v)
		v.idleKey = "" // busy again: when it next idles it is announced afresh
		if e.adapt != nil {
			pd := e.plan.finish[i] - e.plan.start[i]
			s.wake(s.now + pd + driftThreshold(pd) + 1e-6)
		}
	}
	return nil
}

// IdleResolutionSeconds is how far the plan's next need of an idle VM must move before
// the allocator announces that VM again (its idleResolution).
const IdleResolutionSeconds = 10.0

// nextNeeds is the allocator's look-ahead for idle VMs: per VM key, seconds until the
// earliest planned start of an unstarted task planned on it (a key absent: none, +Inf).
// Plan times count from when the first plan was made, the simulator's time 0.
func (e *planExecutor) nextNeeds(s *sim) map[string]float64 {
	need := map[string]float64{}
	for i := range s.tr.Tasks {
		if s.started[i] {
			continue
		}
		k := e.plannedKey(s, i)
		if k == "" {
			continue
		}
		in := max(e.plan.start[i]-s.now, 0)
		if n, ok := need[k]; !ok || in < n {
			need[k] = in
		}
	}
	return need
}

// idleKey is what the allocator records as announced for an idle VM: the absolute time of
// its next need truncated to IdleResolutionSeconds, or "never".
func idleKey(now, need float64) string {
	if math.IsInf(need, 1) {
		return "never"
	}
	return strconv.FormatFloat(math.Floor((now+need)/IdleResolutionSeconds)*IdleResolutionSeconds, 'f', -1, 64)
}

// announceIdle is the allocator's idle announcement and the pool manager's answer to it.
// After every instant at which a VM became ready or a task finished (vm-provisioned and
// task-observed, each followed by a dispatch), every ready VM of the workflow with no task
// running is examined, and announced again only when its next need (idleKey) changed since
// it was last announced: so a VM that came up to nothing, and one kept hot for a task that
// then ran elsewhere, are looked at again. Each announcement goes to pool.ScaleIn.
func (e *planExecutor) announceIdle(s *sim) {
	if !s.handled {
		return
	}
	var needs map[string]float64
	for _, v := range s.vms {
		if v.released() || (v.ready && v.running > 0) {
			continue
		}
		if needs == nil {
			needs = e.nextNeeds(s)
		}
		if !v.ready {
			if _, needed := needs[v.key]; e.cancelUnneeded && !needed {
				s.release(v) // a launch nothing is planned on any more: cancelled, not billed
			}
			continue
		}
		need, ok := needs[v.key]
		if !ok {
			need = math.Inf(1)
		}
		k := idleKey(s.now, need)
		if k == v.idleKey {
			continue
		}
		v.idleKey = k
		e.scaleInVM(s, v, need)
	}
}

// scaleInVM is the pool manager's onVMIdle: pool.ScaleIn keeps v hot, stops it to warm
// standby (started again one warm P90 ahead of the need, same VM and key; never when
// nothing needs it, the workflow's completion then terminates it) or terminates it
// (relaunched cold one cold P90 ahead of a remaining need, under the same plan key).
func (e *planExecutor) scaleInVM(s *sim, v *simVM, need float64) {
	d := pool.ScaleIn(pool.IdleVM{ID: vmKey(v), InstanceType: v.typ.Name, SinceStartSeconds: s.now - v.readyAt},
		need, v.typ, s.cat.MinimumBillSeconds)
	e.scaleIns[d.Action]++
	switch d.Action {
	case pool.ActionStop:
		s.release(v)
		e.schedule(s, dueStart{at: s.now + need - v.typ.Warm.P90Seconds, typ: v.typ, tier: events.TierWarm,
			key: v.key, idleKey: v.idleKey, stoppedAt: s.now})
	case pool.ActionTerminate:
		s.release(v)
		if !math.IsInf(need, 1) {
			e.schedule(s, dueStart{at: s.now + need - v.typ.Cold.P90Seconds, typ: v.typ, tier: events.TierCold, key: v.key})
		}
	}
}

// schedule records a start the pool manager will make; one at +Inf (a stopped VM nothing
// needs) never comes.
func (e *planExecutor) schedule(s *sim, d dueStart) {
	d.at = max(d.at, s.now)
	e.due = append(e.due, d)
	if !math.IsInf(d.at, 1) {
		s.wake(d.at)
	}
}

// startDue starts the stopped VMs and relaunches whose time has come, as the pool
// manager's launcher does. Both answer to the plan's key; a restarted VM keeps the idle
// announcement it had (allocation_vms keeps the row of a VM id), a relaunch is a new VM.
func (e *planExecutor) startDue(s *sim) {
	kept := e.due[:0]
	for _, d := range e.due {
		if d.at > s.now {
			kept = append(kept, d)
			continue
		}
		v := s.request(d.typ, d.tier, s.now)
		v.key = d.key
		if d.tier == events.TierWarm {
			v.standbyFrom = d.stoppedAt
			v.idleKey = d.idleKey
		}
	}
	e.due = kept
}

// finish ends the workflow as its completion does in production: every VM is released
// and a stopped VM's storage is charged until now.
func (e *planExecutor) finish(s *sim) {
	for _, d := range e.due {
		if d.tier == events.TierWarm {
			s.standbyCost += (s.now - d.stoppedAt) * d.typ.WarmCostPerSecond
		}
	}
	e.due = nil
	for _, v := range s.vms {
		s.release(v)
	}
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
		if e.cancelUnneeded && e.remaining(s, i) == 0 {
			continue // every task planned on it started elsewhere: nothing to launch it for
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
		if !e.seenStart[i] {
			e.seenStart[i] = true
			if e.adapt.started != nil {
				e.adapt.started(i, s.start[i])
			}
		}
		done := s.doneTask[i]
		if done && !e.seen[i] {
			e.seen[i] = true
			if e.adapt.observe != nil {
				e.adapt.observe(i, s.finish[i])
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
