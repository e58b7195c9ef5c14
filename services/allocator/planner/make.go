package planner

import (
	"container/heap"
	"fmt"
	"math"
	"strconv"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// maxScans bounds how many tasks one dispatch looks at after the most urgent ready task
// chose to wait. Further down the queue the wait grows (more work ahead), so one of them may
// be worth a new VM that the rest then share; scanning the whole queue at every event would
// make planning quadratic.
const maxScans = 16

// eps absorbs float noise in capacity arithmetic.
const eps = 1e-9

// vmState is one machine during planning.
type vmState struct {
	typ       int32
	seg       int32 // index of its current run in plan.VMs
	running   int32
	runs      int32
	freeCPU   float64
	freeMem   int64
	readyAt   float64
	busyUntil float64
	idleSince float64
	inOpen    bool
	ready     bool
	gone      bool
	// counted: the VM holds quota (running, or idle but kept running for reuse).
	counted bool
}

// event kinds, in processing order at equal times: a VM becomes usable before the tasks
// placed on it can finish.
const (
	evReady uint8 = iota
	evFinish
)

type event struct {
	t    float64
	seq  int32
	id   int32
	kind uint8
}

func (a event) before(b event) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}

// eventHeap orders simulation events (container/heap).
type eventHeap []event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].before(h[j]) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	a := *h
	e := a[len(a)-1]
	*h = a[:len(a)-1]
	return e
}

func (h *eventHeap) push(e event) { heap.Push(h, e) }
func (h *eventHeap) pop() event   { return heap.Pop(h).(event) }

// readyQueue is a max-heap of ready tasks by upward rank (ties: lower index first).
type readyQueue struct {
	a    []int32
	rank []float64
}

func (q *readyQueue) less(x, y int32) bool {
	if q.rank[x] != q.rank[y] {
		return q.rank[x] > q.rank[y]
	}
	return x < y
}

func (q *readyQueue) Len() int           { return len(q.a) }
func (q *readyQueue) Less(i, j int) bool { return q.less(q.a[i], q.a[j]) }
func (q *readyQueue) Swap(i, j int)      { q.a[i], q.a[j] = q.a[j], q.a[i] }
func (q *readyQueue) Push(x any)         { q.a = append(q.a, x.(int32)) }
func (q *readyQueue) Pop() any {
	t := q.a[len(q.a)-1]
	q.a = q.a[:len(q.a)-1]
	return t
}

func (q *readyQueue) push(t int32) { heap.Push(q, t) }
func (q *readyQueue) pop() int32   { return heap.Pop(q).(int32) }

// state is one planning run.
type state struct {
	in    Input
	pipe  Pipeline
	types []catalog.InstanceType
	warm  []float64 // mean warm latency per type
	cold  []float64 // mean cold latency per type

	g      graph
	cpu    []float64
	mem    []int64
	dur    []float64
	rank   []float64
	wait   []int32 // unfinished parents per task
	placed []bool

	vms      []vmState
	segVM    []int32 // plan.VMs index → machine
	plan     Plan
	events   eventHeap
	seq      int32
	ready    readyQueue
	deferred []int32
	open     []int32
	idle     [][]int32 // per type: idle VMs, most recently idle last
	poolHot  [][]int   // per type: unclaimed pool VMs
	poolWarm [][]int
	poolNext []int // per type index into poolHot / poolWarm (hot: even, warm: odd)

	// backlog sums over ready, unplaced tasks: core-seconds and byte-seconds.
	backlogCPU, backlogMem float64

	liveVMs    int
	liveByType []int
	// Quota use: VMs not released, including idle ones the plan may still keep running for
	// a later task (hotIdle, oldest first), which are released first when the quota is full.
	qVMs    int
	qCores  float64
	hotIdle []idleVM
	// released logs, in idle order, the idle VMs makeRoom released: they ran until
	// their idleSince, so a VM ready before that overlapped them.
	released  []releasedVM
	liveCores float64
	liveMem   float64
	// Running tasks: Σ cpu, Σ cpu·finish, Σ mem, Σ mem·finish, so the work they still hold
	// at any t is Σ cpu·finish − t·Σ cpu.
	runCPU, runCPUFin, runMem, runMemFin float64
	makespan                             float64 // the plan's makespan estimate (see Context.Makespan)
	lambda                               float64
	spent                                float64
	minCPU                               float64
	minMem                               int64

	ctx  Context
	cand []Candidate
	keys map[string]bool // VM keys in use, built on first need
}

// Make plans the workflow: a list schedule in upward-rank order (HEFT) on predicted
// durations, simulated forward in time; each ready task goes to free capacity on a VM the
// plan already runs, or else to the candidate of lowest marginal objective among reusing an
// idle VM, claiming a pool VM, launching one, or waiting for capacity. See doc.go.
func Make(in Input) (Plan, error) {
	s, err := newState(in)
	if err != nil {
		return Plan{}, err
	}
	if err := s.run(); err != nil {
		return Plan{}, err
	}
	return s.finish(), nil
}

func newState(in Input) (*state, error) {
	n := len(in.Tasks)
	s := &state{in: in, types: in.Catalog.Types}
	if in.Pipeline != nil {
		s.pipe = *in.Pipeline
	} else {
		s.pipe = DefaultPipeline()
	}
	if len(s.types) == 0 && n > 0 {
		return nil, fmt.Errorf("%w: the catalog has no instance types", ErrInvalidInput)
	}
	nt := len(s.types)
	s.warm = make([]float64, nt)
	s.cold = make([]float64, nt)
	typeIndex := make(map[string]int, nt)
	for k, t := range s.types {
		s.warm[k] = t.Warm.MeanSeconds
		s.cold[k] = t.Cold.MeanSeconds
		typeIndex[t.Name] = k
	}

	g, err := buildGraph(in.Tasks)
	if err != nil {
		return nil, err
	}
	s.g = g
	s.cpu = make([]float64, n)
	s.mem = make([]int64, n)
	s.dur = make([]float64, n)
	s.placed = make([]bool, n)
	s.wait = make([]int32, n)
	s.plan.Placements = make([]Placement, n)
	headroom := memoryFactor(in.Knobs.MemoryHeadroom)
	s.minCPU, s.minMem = math.Inf(1), math.MaxInt64
	for i, t := range in.Tasks {
		if math.IsNaN(t.Duration) || t.Duration < 0 || math.IsInf(t.Duration, 0) {
			return nil, fmt.Errorf("%w: task %d (%s): duration %v", ErrInvalidInput, i, t.ID, t.Duration)
		}
		if math.IsNaN(t.CPU) || t.CPU < 0 || t.MemoryBytes < 0 {
			return nil, fmt.Errorf("%w: task %d (%s): cpu %v memory %d", ErrInvalidInput, i, t.ID, t.CPU, t.MemoryBytes)
		}
		s.cpu[i] = t.CPU
		s.mem[i] = int64(float64(t.MemoryBytes) * headroom)
		s.dur[i] = t.Duration
		s.wait[i] = int32(len(t.Parents))
		if !fitsSomeType(s.types, s.cpu[i], s.mem[i], in.Catalog.Quotas) {
			return nil, fmt.Errorf("%w: task %d (%s) needs %.2f cores and %d bytes", ErrUnschedulable, i, t.ID, s.cpu[i], s.mem[i])
		}
		s.minCPU = min(s.minCPU, s.cpu[i])
		if s.mem[i] < s.minMem {
			s.minMem = s.mem[i]
		}
		s.plan.Placements[i] = Placement{Task: int32(i), VM: -1}
	}

	s.idle = make([][]int32, nt)
	s.liveByType = make([]int, nt)
	s.poolHot = make([][]int, nt)
	s.poolWarm = make([][]int, nt)
	s.poolNext = make([]int, 2*nt)
	s.ctx.avoid = make(map[string]bool, len(in.Avoid))
	for _, a := range in.Avoid {
		s.ctx.avoid[a.InstanceType+"/"+a.Tier] = true
	}

	// Fixed tasks: their machines become VMs of the plan, finished tasks release their
	// children now, running ones hold their capacity until their predicted finish.
	fixedVM := map[string]int32{}
	done := make([]bool, n)
	for _, f := range in.Fixed {
		if f.Task < 0 || int(f.Task) >= n {
			return nil, fmt.Errorf("%w: fixed task index %d out of range", ErrInvalidInput, f.Task)
		}
		if s.placed[f.Task] {
			return nil, fmt.Errorf("%w: task %d fixed twice", ErrInvalidInput, f.Task)
		}
		k, ok := typeIndex[f.InstanceType]
		if !ok {
			return nil, fmt.Errorf("%w: fixed task %d: unknown instance type %q", ErrInvalidInput, f.Task, f.InstanceType)
		}
		v, ok := fixedVM[f.VMKey]
		if !ok {
			v = s.addVM(k, VM{Key: f.VMKey, Tier: events.TierHot, RequestAt: f.Start, ReadyAt: f.Start,
				PoolVMID: f.VMKey, Reason: "carried over from the previous plan"})
			s.vms[v].ready = true
			fixedVM[f.VMKey] = v
		}
		vm := &s.vms[v]
		seg := &s.plan.VMs[vm.seg]
		seg.RequestAt = min(seg.RequestAt, f.Start)
		seg.ReadyAt = seg.RequestAt
		vm.busyUntil = max(vm.busyUntil, f.Finish)
		s.placed[f.Task] = true
		s.plan.Placements[f.Task] = Placement{Task: f.Task, VM: int(vm.seg), Start: f.Start, Finish: max(f.Finish, f.Start)}
		if f.Finish <= in.Now {
			done[f.Task] = true
			s.dur[f.Task] = 0
			continue
		}
		s.dur[f.Task] = f.Finish - in.Now
		vm.running++
		vm.freeCPU -= s.cpu[f.Task]
		vm.freeMem -= s.mem[f.Task]
		s.running(f.Task, f.Finish, 1)
		s.pushEvent(f.Finish, evFinish, f.Task)
	}
	s.rank = g.upwardRanks(s.dur)
	s.ready.rank = s.rank
	for i := range done {
		if done[i] {
			for _, c := range g.kids[g.off[i]:g.off[i+1]] {
				s.wait[c]--
			}
		}
	}

	// Pool VMs, by type. A pool VM that is a fixed task's machine is already in the plan:
	// if nothing runs on it, it is an idle VM of the plan.
	idleFixed := map[int32]bool{}
	for pi, p := range in.Pool {
		if v, ok := fixedVM[p.ID]; ok {
			vm := &s.vms[v]
			if vm.running == 0 && p.Tier == events.TierHot && !idleFixed[v] {
				vm.idleSince = max(vm.busyUntil, in.Now)
				s.idle[vm.typ] = append(s.idle[vm.typ], v)
				idleFixed[v] = true
			}
			continue
		}
		k, ok := typeIndex[p.InstanceType]
		if !ok {
			continue // a pool VM of a type this catalog does not price cannot be planned for
		}
		switch p.Tier {
		case events.TierHot:
			s.poolHot[k] = append(s.poolHot[k], pi)
		case events.TierWarm:
			s.poolWarm[k] = append(s.poolWarm[k], pi)
		}
	}
	for i := range s.vms {
		vm := &s.vms[i]
		if vm.running > 0 {
			s.liveVMs++
			s.liveByType[vm.typ]++
			s.liveCores += s.types[vm.typ].Cores
			s.liveMem += float64(s.types[vm.typ].MemoryBytes)
			s.count(int32(i))
			s.maybeOpen(int32(i))
		} else if idleFixed[int32(i)] {
			s.count(int32(i))
			s.hotIdle = append(s.hotIdle, idleVM{v: int32(i), since: vm.idleSince})
		} else {
			vm.gone = true
		}
	}

	// λ: the mode's fixed part plus its per-parallel-core part, parallelism measured on the
	// predicted DAG.
	work, cp := 0.0, 0.0
	for i := 0; i < n; i++ {
		if !s.placed[i] {
			work += s.cpu[i] * s.dur[i]
		}
		if !done[i] {
			cp = max(cp, s.rank[i])
		}
	}
	par := 1.0
	if cp > 0 {
		par = max(1, work/cp)
	}
	s.lambda = in.Objective.Lambda + in.Objective.LambdaPerParallelCore*par
	s.makespan = in.Now + cp
	for i := 0; i < n; i++ {
		if !s.placed[i] && s.wait[i] == 0 {
			s.enqueue(int32(i))
		}
	}
	return s, nil
}

func fitsSomeType(types []catalog.InstanceType, cpu float64, mem int64, q catalog.Quotas) bool {
	for _, t := range types {
		if t.Cores+eps >= cpu && t.MemoryBytes >= mem && (q.MaxCores <= 0 || t.Cores <= q.MaxCores+eps) {
			return true
		}
	}
	return false
}

func (s *state) pushEvent(t float64, kind uint8, id int32) {
	s.seq++
	s.events.push(event{t: t, seq: s.seq, id: id, kind: kind})
}

func (s *state) enqueue(i int32) {
	s.ready.push(i)
	s.backlogCPU += s.cpu[i] * s.dur[i]
	s.backlogMem += float64(s.mem[i]) * s.dur[i]
}

func (s *state) dequeued(i int32) {
	s.backlogCPU = max(0, s.backlogCPU-s.cpu[i]*s.dur[i])
	s.backlogMem = max(0, s.backlogMem-float64(s.mem[i])*s.dur[i])
}

// addVM appends a machine with its first run and returns its index.
func (s *state) addVM(k int, run VM) int32 {
	t := &s.types[k]
	run.InstanceType, run.Cores, run.MemoryBytes = t.Name, t.Cores, t.MemoryBytes
	run.Resumes = -1
	run.Release = ReleaseTerminate
	s.plan.VMs = append(s.plan.VMs, run)
	if s.keys != nil {
		s.keys[run.Key] = true
	}
	s.segVM = append(s.segVM, int32(len(s.vms)))
	s.vms = append(s.vms, vmState{typ: int32(k), seg: int32(len(s.plan.VMs) - 1), runs: 1,
		freeCPU: t.Cores, freeMem: t.MemoryBytes})
	return int32(len(s.vms) - 1)
}

func (s *state) hasRoom(v *vmState) bool {
	return v.freeCPU+eps >= s.minCPU && v.freeMem >= s.minMem
}

func (s *state) maybeOpen(v int32) {
	vm := &s.vms[v]
	if !vm.inOpen && vm.running > 0 && s.hasRoom(vm) {
		vm.inOpen = true
		s.open = append(s.open, v)
	}
}

// fitOpen finds the busy VM to share with task i: among those with room (ready now, or
// still starting, from their ready time) the soonest start, then the least extension of the
// VM's life (price × seconds the task would keep it running past its other tasks), then the
// least free cores (best fit keeps other VMs free to be released). v is -1 when none has
// room.
func (s *state) fitOpen(i int32, t float64) (best int32, at, ext float64) {
	best, at, ext = -1, math.Inf(1), math.Inf(1)
	bestFree := math.Inf(1)
	w := 0
	for _, v := range s.open {
		vm := &s.vms[v]
		if vm.running == 0 || !s.hasRoom(vm) {
			vm.inOpen = false
			continue
		}
		s.open[w] = v
		w++
		if vm.freeCPU+eps < s.cpu[i] || vm.freeMem < s.mem[i] {
			continue
		}
		start := t
		if !vm.ready {
			start = max(t, vm.readyAt)
		}
		e := s.types[vm.typ].PricePerSecond * max(0, start+s.dur[i]-vm.busyUntil)
		if start < at || (start == at && (e < ext || (e == ext && vm.freeCPU < bestFree))) {
			best, at, ext, bestFree = v, start, e, vm.freeCPU
		}
	}
	s.open = s.open[:w]
	return best, at, ext
}

// idleVM is an entry of the hot-idle queue: VM v, idle since since.
type idleVM struct {
	v     int32
	since float64
}

type releasedVM struct {
	at    float64
	cores float64
}

// overlapping counts the VMs and cores makeRoom released that still ran after r.
func (s *state) overlapping(r float64) (vms int, cores float64) {
	for k := len(s.released) - 1; k >= 0 && s.released[k].at > r; k-- {
		vms++
		cores += s.released[k].cores
	}
	return vms, cores
}

// count makes VM v hold quota.
func (s *state) count(v int32) {
	if vm := &s.vms[v]; !vm.counted {
		vm.counted = true
		s.qVMs++
		s.qCores += s.types[vm.typ].Cores
	}
}

// makeRoom releases idle VMs, longest idle first, until one more VM of cores fits the
// quota or none is left: a released VM can still be started again later, from warm.
func (s *state) makeRoom(cores float64) {
	q := s.in.Catalog.Quotas
	full := func() bool {
		return (q.MaxVMs > 0 && s.qVMs+1 > q.MaxVMs) || (q.MaxCores > 0 && s.qCores+cores > q.MaxCores+eps)
	}
	for full() && len(s.hotIdle) > 0 {
		e := s.hotIdle[0]
		s.hotIdle = s.hotIdle[1:]
		vm := &s.vms[e.v]
		if vm.running > 0 || !vm.counted || vm.gone || vm.idleSince != e.since {
			continue // busy again (maybe idle again since, queued later), or released
		}
		vm.counted = false
		s.qVMs--
		s.qCores -= s.types[vm.typ].Cores
		s.released = append(s.released, releasedVM{at: vm.idleSince, cores: s.types[vm.typ].Cores})
	}
}

// place starts task i on VM v at time at.
func (s *state) place(i, v int32, at float64) {
	vm := &s.vms[v]
	s.count(v)
	if vm.running == 0 {
		s.liveVMs++
		s.liveByType[vm.typ]++
		s.liveCores += s.types[vm.typ].Cores
		s.liveMem += float64(s.types[vm.typ].MemoryBytes)
	}
	vm.running++
	vm.freeCPU -= s.cpu[i]
	vm.freeMem -= s.mem[i]
	end := at + s.dur[i]
	vm.busyUntil = max(vm.busyUntil, end)
	s.placed[i] = true
	s.plan.Placements[i] = Placement{Task: i, VM: int(vm.seg), Start: at, Finish: end}
	s.makespan = max(s.makespan, at+s.rank[i])
	s.running(i, end, 1)
	s.pushEvent(end, evFinish, i)
}

// running adds (sign 1) or removes (sign −1) task i, finishing at end, from the running sums.
func (s *state) running(i int32, end, sign float64) {
	c, m := s.cpu[i]*sign, float64(s.mem[i])*sign
	s.runCPU += c
	s.runCPUFin += c * end
	s.runMem += m
	s.runMemFin += m * end
}

// uncovered is the ready backlog (plus extra, the task being placed) that the VMs the plan
// already runs cannot absorb within the next horizon seconds: their capacity over the
// horizon less what their running tasks still hold. It is what a new VM would be filled
// with, in core-seconds and byte-seconds.
func (s *state) uncovered(t, horizon, extraCPU, extraMem float64) (cpu, mem float64) {
	heldCPU := min(max(0, s.runCPUFin-t*s.runCPU), s.liveCores*horizon)
	heldMem := min(max(0, s.runMemFin-t*s.runMem), s.liveMem*horizon)
	cpu = s.backlogCPU + extraCPU - (s.liveCores*horizon - heldCPU)
	mem = s.backlogMem + extraMem - (s.liveMem*horizon - heldMem)
	return max(cpu, extraCPU), max(mem, extraMem)
}

func (s *state) run() error {
	t := s.in.Now
	if err := s.dispatch(t); err != nil {
		return err
	}
	for len(s.events) > 0 {
		t = s.events[0].t
		for len(s.events) > 0 && s.events[0].t == t {
			e := s.events.pop()
			switch e.kind {
			case evReady:
				vm := &s.vms[e.id]
				vm.ready = true
				s.maybeOpen(e.id)
			case evFinish:
				s.finishTask(e.id, t)
			}
		}
		if err := s.dispatch(t); err != nil {
			return err
		}
	}
	for i, p := range s.placed {
		if !p {
			return fmt.Errorf("%w: task %d (%s) was never placed", ErrUnschedulable, i, s.in.Tasks[i].ID)
		}
	}
	return nil
}

func (s *state) finishTask(i int32, t float64) {
	seg := s.plan.Placements[i].VM
	v := s.segVM[seg]
	vm := &s.vms[v]
	vm.running--
	vm.freeCPU += s.cpu[i]
	vm.freeMem += s.mem[i]
	s.running(i, t, -1)
	if vm.running == 0 {
		vm.idleSince = t
		s.liveVMs--
		s.liveByType[vm.typ]--
		s.liveCores -= s.types[vm.typ].Cores
		s.liveMem -= float64(s.types[vm.typ].MemoryBytes)
		s.idle[vm.typ] = append(s.idle[vm.typ], v)
		s.hotIdle = append(s.hotIdle, idleVM{v: v, since: t})
	} else {
		s.maybeOpen(v)
	}
	for _, c := range s.g.kids[s.g.off[i]:s.g.off[i+1]] {
		s.wait[c]--
		if s.wait[c] == 0 && !s.placed[c] {
			s.enqueue(c)
		}
	}
}

func (s *state) dispatch(t float64) error {
	s.deferred = s.deferred[:0]
	// ahead is the work of the tasks this dispatch left waiting: a task further down the
	// queue that waits too starts only after it (and the running work) drains.
	ahead := 0.0
	held := max(0, s.runCPUFin-t*s.runCPU)
	scanned := 0
	for len(s.ready.a) > 0 {
		i := s.ready.pop()
		if len(s.deferred) > 0 {
			if scanned >= maxScans {
				s.deferred = append(s.deferred, i)
				break
			}
			scanned++
		}
		open, openAt, ext := s.fitOpen(i, t)
		if open >= 0 && ext == 0 {
			// Room inside a running VM's paid life: free.
			s.dequeued(i)
			s.place(i, open, openAt)
			continue
		}
		// Waiting is possible while something is still to happen: a running VM that holds
		// the task frees room, or any event frees quota.
		waitAt := math.Inf(1)
		if len(s.events) > 0 {
			waitAt = s.events[0].t
			if s.liveHolds(i) && s.liveCores > 0 {
				waitAt = max(waitAt, t+(held+ahead)/s.liveCores)
			}
		}
		if !math.IsInf(waitAt, 1) && s.freeWait(i, t, waitAt) {
			// Waiting delays nothing: no VM can beat it, skip the pipeline.
			s.deferred = append(s.deferred, i)
			ahead += s.cpu[i] * s.dur[i]
			continue
		}
		c, err := s.decide(i, t, waitAt, open, openAt)
		if err != nil {
			return err
		}
		if c.Source == SourceWait {
			s.deferred = append(s.deferred, i)
			ahead += s.cpu[i] * s.dur[i]
			continue
		}
		s.dequeued(i)
		s.commit(i, c, t)
		held = max(0, s.runCPUFin-t*s.runCPU)
	}
	for _, i := range s.deferred {
		s.ready.push(i)
	}
	return nil
}

// freeWait reports whether task i can wait until waitAt without pushing the makespan
// estimate or the deadline: then waiting scores lowest under the default pipeline (it
// adds no VM and no delay), so dispatch skips the pipeline for it. A custom pipeline
// with a scorer that prefers starting early sees such tasks once they have no slack left.
func (s *state) freeWait(i int32, t, waitAt float64) bool {
	o := &s.in.Objective
	need := s.rank[i] * (1 + o.SlackReserve)
	if waitAt+need > max(s.makespan, t+need) {
		return false
	}
	return o.DeadlineSeconds <= 0 || waitAt+s.rank[i] <= max(s.makespan, o.DeadlineSeconds)
}

// liveHolds reports whether some VM the plan runs now could ever hold task i.
func (s *state) liveHolds(i int32) bool {
	for k, n := range s.liveByType {
		if n > 0 && s.types[k].Cores+eps >= s.cpu[i] && s.types[k].MemoryBytes >= s.mem[i] {
			return true
		}
	}
	return false
}

// money is what choosing a VM of type k for task i adds to the bill. The VM run is billed
// from when it runs (ahead: idle seconds before the task starts) for at least the minimum
// bill when a start is billed, plus extra (the cost of an idle gap); call that P. The part
// of the ready backlog the plan's running VMs cannot absorb would fill a fraction of the
// run; the task pays its own use of the VM plus all of the part nobody fills: P·(own +
// 1 − fill). A VM a wave keeps busy costs the task about its own run; a VM only this task
// uses costs it all of P.
func (s *state) money(i int32, k int, t, ahead float64, billed bool, extra float64) float64 {
	tp := &s.types[k]
	d := max(s.dur[i], 1e-3)
	run := d
	if billed {
		run = max(d, s.in.Catalog.MinimumBillSeconds-ahead)
	}
	share := max(s.cpu[i]/tp.Cores, float64(s.mem[i])/float64(tp.MemoryBytes))
	own := share * d / run
	wc, wm := s.uncovered(t, run, s.cpu[i]*d, float64(s.mem[i])*d)
	fill := max(wc/(tp.Cores*run), wm/(float64(tp.MemoryBytes)*run))
	fill = min(1, max(fill, own))
	return (tp.PricePerSecond*(ahead+run) + extra) * (own + 1 - fill)
}

// decide runs the pipeline for a task no busy VM can take now.
func (s *state) decide(i int32, t, waitAt float64, open int32, openAt float64) (Candidate, error) {
	in := &s.in
	if q := in.Catalog.Quotas; q.MaxVMs > 0 || q.MaxCores > 0 {
		s.makeRoom(s.smallestFit(i))
	}
	s.cand = s.cand[:0]
	// Waiting comes first so that it wins ties: with nothing to gain from a new VM, a task
	// runs later on capacity the plan already pays for.
	if !math.IsInf(waitAt, 1) {
		// Waiting costs no new machine, but the task still runs somewhere: price its run at
		// the cheapest fitting core so waiting is not mistaken for free work.
		s.cand = append(s.cand, Candidate{Source: SourceWait, Type: -1, Start: waitAt,
			Money: s.cheapestRun(i)})
	}
	if open >= 0 {
		// Sharing a busy VM that would stop sooner: the task pays the extension no other
		// ready work fills.
		vm := &s.vms[open]
		tp := &s.types[vm.typ]
		ext := max(0, openAt+s.dur[i]-vm.busyUntil)
		wc, _ := s.uncovered(t, ext, 0, 0)
		fill := min(1, wc/(tp.Cores*max(ext, 1e-3)))
		s.cand = append(s.cand, Candidate{Source: SourceOpen, Type: int(vm.typ), Start: openAt, ref: open,
			Money: s.cheapestRun(i) + tp.PricePerSecond*ext*(1-fill)})
	}
	for k := range s.types {
		tp := &s.types[k]
		if tp.Cores+eps < s.cpu[i] || tp.MemoryBytes < s.mem[i] {
			continue // FitsShape would reject every source of this type; skip the work
		}
		// An idle VM of the plan: the most recently idle one has the cheapest gap.
		for st := s.idle[k]; len(st) > 0; st = st[:len(st)-1] {
			v := st[len(st)-1]
			vm := &s.vms[v]
			if vm.running > 0 || vm.gone {
				s.idle[k] = st[:len(st)-1]
				continue
			}
			gap := max(0, t-vm.idleSince)
			c := Candidate{Source: SourceIdle, Type: k, Start: t, ref: v, holdsQuota: vm.counted, Money: math.Inf(1)}
			if vm.counted {
				// Kept running across the gap.
				c.Money = s.money(i, k, t, 0, false, tp.PricePerSecond*gap)
			}
			if ahead := s.lead(t); gap >= s.warm[k]+ahead {
				restart := s.money(i, k, t, ahead, true, tp.WarmCostPerSecond*gap)
				if restart < c.Money {
					c.Money, c.Restart, c.holdsQuota = restart, true, false
				}
			}
			if !math.IsInf(c.Money, 1) {
				s.cand = append(s.cand, c)
			}
			break
		}
		if n := s.poolNext[2*k]; n < len(s.poolHot[k]) {
			p := in.Pool[s.poolHot[k][n]]
			at := max(t, max(p.FreeAt, in.Now))
			s.cand = append(s.cand, Candidate{Source: SourcePoolHot, Type: k, Start: at, ref: int32(n),
				Money: s.money(i, k, at, 0, true, 0)})
		}
		if n := s.poolNext[2*k+1]; n < len(s.poolWarm[k]) {
			p := in.Pool[s.poolWarm[k][n]]
			at := max(t, max(p.FreeAt, in.Now)+s.warm[k])
			s.cand = append(s.cand, Candidate{Source: SourcePoolWarm, Type: k, Start: at, ref: int32(n),
				Money: s.money(i, k, at, s.lead(at), true, 0)})
		}
		at := max(t, in.Now+s.cold[k])
		s.cand = append(s.cand, Candidate{Source: SourceCold, Type: k, Start: at,
			Money: s.money(i, k, at, s.lead(at), true, 0)})
	}

	ctx := &s.ctx
	ctx.Task, ctx.CPU, ctx.Memory, ctx.Duration, ctx.Rank = i, s.cpu[i], s.mem[i], s.dur[i], s.rank[i]
	ctx.Now, ctx.T, ctx.Makespan, ctx.Lambda = in.Now, t, s.makespan, s.lambda
	ctx.Objective, ctx.Types, ctx.Quotas = in.Objective, s.types, in.Catalog.Quotas
	ctx.LiveVMs, ctx.LiveCores, ctx.Spent = s.qVMs, s.qCores, s.spent
	ctx.quotaBlocked = 0
	ctx.WaitStart = waitAt
	if len(s.released) > 0 {
		// A VM requested early runs before t, beside VMs released since; if that breaks
		// the quota, it is requested to be ready just in time instead.
		q := in.Catalog.Quotas
		for j := range s.cand {
			c := &s.cand[j]
			if !c.addsVM() {
				continue
			}
			c.overVMs, c.overCores = s.overlapping(c.Start - s.lead(c.Start))
			if (q.MaxVMs > 0 && s.qVMs+c.overVMs+1 > q.MaxVMs) ||
				(q.MaxCores > 0 && s.qCores+c.overCores+s.types[c.Type].Cores > q.MaxCores+eps) {
				c.noLead = true
				c.overVMs, c.overCores = s.overlapping(c.Start)
			}
		}
	}
	if !math.IsInf(waitAt, 1) && s.liveCores > 0 {
		// Fluid drain of the running work and the ready backlog: with c more cores it ends
		// sooner by W/C − W/(C+c).
		w := max(0, s.runCPUFin-t*s.runCPU) + s.backlogCPU
		for j := range s.cand {
			if c := &s.cand[j]; c.addsCores() {
				c.Relief = w/s.liveCores - w/(s.liveCores+s.types[c.Type].Cores)
			}
		}
	}

	w := 0
	for j := range s.cand {
		c := &s.cand[j]
		ok := true
		for _, f := range s.pipe.Filters {
			if f.Filter(ctx, c) != StatusOK {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		c.Score = 0
		for _, sc := range s.pipe.Scorers {
			c.Score += sc.Score(ctx, c)
		}
		s.cand[w] = *c
		w++
	}
	s.cand = s.cand[:w]
	best := s.pipe.Chooser.Choose(ctx, s.cand)
	if best < 0 {
		return Candidate{}, fmt.Errorf("%w: task %d (%s): no candidate passed the filters at t=%.1f",
			ErrUnschedulable, i, in.Tasks[i].ID, t)
	}
	c := s.cand[best]
	if c.Source == SourceWait && ctx.quotaBlocked > 0 && delay(ctx, c.Start) > 0 {
		s.contend(t, c.Start)
	}
	return c, nil
}

// lead is how long before its mean ready time a VM needed at start is requested: the
// policy's warm-ahead margin, plus Knobs.DriftLead of the time until then, because a start
// far in the future is uncertain by the sum of the prediction errors on the way to it.
func (s *state) lead(start float64) float64 {
	drift := s.in.Knobs.DriftLead
	if drift == 0 {
		drift = DefaultDriftLead
	}
	return max(s.in.Knobs.WarmAheadSeconds, 0) + max(drift, 0)*max(0, start-s.in.Now)
}

// smallestFit is the fewest cores of a type that holds task i.
func (s *state) smallestFit(i int32) float64 {
	best := math.Inf(1)
	for k := range s.types {
		if t := &s.types[k]; t.Cores+eps >= s.cpu[i] && t.MemoryBytes >= s.mem[i] {
			best = min(best, t.Cores)
		}
	}
	return best
}

func (s *state) cheapestRun(i int32) float64 {
	best := math.Inf(1)
	for k := range s.types {
		t := &s.types[k]
		if t.Cores+eps < s.cpu[i] || t.MemoryBytes < s.mem[i] {
			continue
		}
		share := max(s.cpu[i]/t.Cores, float64(s.mem[i])/float64(t.MemoryBytes))
		best = min(best, t.PricePerSecond*share*s.dur[i])
	}
	return best
}

// contend records that tasks waited in [from, to) because the quota was full.
func (s *state) contend(from, to float64) {
	w := &s.plan.Contention
	if n := len(*w); n > 0 && (*w)[n-1].EndSeconds >= from {
		(*w)[n-1].EndSeconds = max((*w)[n-1].EndSeconds, to)
		(*w)[n-1].Cores = max((*w)[n-1].Cores, s.liveCores)
		return
	}
	*w = append(*w, events.Window{StartSeconds: from, EndSeconds: to, Cores: s.liveCores,
		CapacityCores: s.in.Catalog.Quotas.MaxCores, Reason: "quota full: tasks wait for a running VM"})
}

// commit carries out the chosen candidate for task i at time t.
func (s *state) commit(i int32, c Candidate, t float64) {
	in := &s.in
	ahead := s.lead(c.Start)
	if c.noLead {
		ahead = 0
	}
	k := c.Type
	s.spent += c.Money
	id := in.Tasks[i].ID
	var v int32
	switch c.Source {
	case SourceOpen:
		s.place(i, c.ref, c.Start)
		return
	case SourceIdle:
		v = c.ref
		st := s.idle[k]
		s.idle[k] = st[:len(st)-1]
		vm := &s.vms[v]
		if c.Restart {
			prev := vm.seg
			s.plan.VMs[prev].ReleaseAt = vm.idleSince
			s.plan.VMs[prev].Release = ReleaseStop
			vm.runs++
			req := max(vm.idleSince, c.Start-s.warm[k]-ahead)
			run := s.plan.VMs[prev]
			run.Key = s.freshKey(baseKey(run.Key) + "/run" + strconv.Itoa(int(vm.runs)))
			run.Tier, run.Resumes, run.Release = events.TierWarm, int(prev), ReleaseTerminate
			run.PoolVMID = ""
			if s.plan.VMs[prev].PoolVMID != "" {
				run.PoolVMID = s.plan.VMs[prev].PoolVMID
			}
			run.RequestAt, run.ReadyAt = req, req+s.warm[k]
			run.Reason = fmt.Sprintf("restart after %.0fs stopped, for %s", c.Start-vm.idleSince, id)
			s.plan.VMs = append(s.plan.VMs, run)
			s.segVM = append(s.segVM, v)
			vm.seg = int32(len(s.plan.VMs) - 1)
		}
	case SourcePoolHot, SourcePoolWarm:
		list, slot := s.poolHot[k], 2*k
		tier, lat := events.TierHot, 0.0
		if c.Source == SourcePoolWarm {
			list, slot, tier, lat = s.poolWarm[k], 2*k+1, events.TierWarm, s.warm[k]
		}
		p := in.Pool[list[s.poolNext[slot]]]
		s.poolNext[slot]++
		req := max(max(in.Now, p.FreeAt), c.Start-lat-ahead)
		v = s.addVM(k, VM{Key: p.ID, Tier: tier, RequestAt: req, ReadyAt: req + lat, PoolVMID: p.ID,
			Reason: fmt.Sprintf("claim %s pool VM for %s", tier, id)})
	case SourceCold:
		req := max(in.Now, c.Start-s.cold[k]-ahead)
		v = s.addVM(k, VM{Key: s.freshKey("vm-" + strconv.Itoa(len(s.plan.VMs))), Tier: events.TierCold, RequestAt: req,
			ReadyAt: req + s.cold[k], Reason: fmt.Sprintf("launch for %s: no running or idle VM holds it in time", id)})
	}
	vm := &s.vms[v]
	vm.readyAt = c.Start
	if c.Start > t {
		vm.ready = false
		s.pushEvent(c.Start, evReady, v)
	} else {
		vm.ready = true
	}
	s.place(i, v, c.Start)
	s.maybeOpen(v)
}

// freshKey returns k, or k with a suffix if a VM of the plan (one carried over from an
// earlier plan, say) already has that key: keys name launches and must not repeat.
func (s *state) freshKey(k string) string {
	if s.keys == nil {
		s.keys = make(map[string]bool, len(s.plan.VMs)+1)
		for _, v := range s.plan.VMs {
			s.keys[v.Key] = true
		}
	}
	key := k
	for n := 2; s.keys[key]; n++ {
		key = k + "~" + strconv.Itoa(n)
	}
	s.keys[key] = true
	return key
}

func baseKey(k string) string {
	for j := len(k) - 1; j >= 0; j-- {
		if k[j] == '/' {
			return k[:j]
		}
	}
	return k
}

func (s *state) finish() Plan {
	for i := range s.vms {
		vm := &s.vms[i]
		run := &s.plan.VMs[vm.seg]
		run.ReleaseAt = max(run.ReadyAt, vm.busyUntil)
	}
	for _, p := range s.plan.Placements {
		s.plan.Makespan = max(s.plan.Makespan, p.Finish)
	}
	s.plan.Lambda = s.lambda
	s.plan.Cost = Cost(s.plan, s.in.Catalog)
	var cold, warm, hot, restarts int
	for _, v := range s.plan.VMs {
		switch {
		case v.Resumes >= 0:
			restarts++
		case v.Tier == events.TierCold:
			cold++
		case v.Tier == events.TierWarm:
			warm++
		default:
			hot++
		}
	}
	s.plan.Reason = fmt.Sprintf("%s objective, λ=$%.6f/s: %d VM runs (%d launched, %d from warm pool, %d hot, %d restarts after a stop); predicted makespan %.0fs, cost $%.4f",
		modeName(s.in.Objective.Mode), s.lambda, len(s.plan.VMs), cold, warm, hot, restarts, s.plan.Makespan, s.plan.Cost)
	if len(s.plan.Contention) > 0 {
		s.plan.Reason += fmt.Sprintf("; %d quota contention windows", len(s.plan.Contention))
	}
	return s.plan
}

func modeName(m string) string {
	if m == "" {
		return "explicit"
	}
	return m
}

// memoryFactor turns Knobs.MemoryHeadroom into the factor task memory is multiplied by.
func memoryFactor(h float64) float64 {
	switch {
	case h >= 1:
		return h
	case h > 0:
		return 1 + h
	}
	return 1
}
