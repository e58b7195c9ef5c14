package bench

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/foresight-run/foresight/pkg/bounds"
	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// latencyQuantileFloor and latencyQuantileCeil clamp the uniform draw of every launch
// latency, so the lower bound (package bounds) can use the floor's quantile and stay a
// bound.
const (
	latencyQuantileFloor = bounds.LatencyFloorQuantile
	latencyQuantileCeil  = 0.99
)

// ErrStuck means a policy left runnable work with nothing scheduled to happen: a bug in
// the policy or a task that fits no instance type.
var ErrStuck = errors.New("simulation stuck")

type evKind int

const (
	evVMReady evKind = iota
	evTaskDone
	evWake
)

type event struct {
	t    float64
	kind evKind
	ref  int
	seq  int
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// simVM is one running interval of a machine: from its request to its release.
type simVM struct {
	id int
	// name is the interval's id for the planner and dispatch (vmKey), made once.
	name string
	// key names the machine to dispatch, as a plan's VM key does in production: a VM
	// stopped and started again keeps it; a relaunch gets a fresh one.
	key       string
	typ       catalog.InstanceType
	tier      string
	requestAt float64
	readyAt   float64
	releaseAt float64 // NaN while allocated
	ready     bool
	freeCores float64
	freeMem   int64
	running   int
	idleSince float64
	// standbyFrom is when the stopped VM this interval was started from began waiting (warm
	// tier); its storage cost runs to requestAt.
	standbyFrom float64
	// hotFrom is when a hot-tier VM was already running for this workflow (bill from it).
	hotFrom float64
	// cancelled marks a launch released before it was ready: never billed.
	cancelled bool
	// idleKey is the next need the allocator last announced for this machine while idle
	// (allocation_vms.idle_key): "" when unannounced, reset when a task is dispatched to it.
	idleKey string
}

func (v *simVM) released() bool { return !math.IsNaN(v.releaseAt) }

func (v *simVM) fits(t *Task) bool {
	const eps = 1e-9
	return v.freeCores+eps >= t.CPU && v.freeMem >= t.Memory
}

// sim is a discrete-event simulation of one workflow on a pool.
type sim struct {
	tr  *Trace
	cat catalog.Catalog
	rng *rand.Rand

	now    float64
	events eventHeap
	seq    int

	waitParents []int
	runnable    []bool
	runnableAt  []float64
	started     []bool
	start       []float64
	finish      []float64
	doneTask    []bool
	vmOf        []int
	done        int

	vms []*simVM
	// handled reports whether a VM became ready or a task finished at this instant: the
	// events (vm-provisioned, task-observed) after which the allocator dispatches and
	// announces its idle VMs. Reset before each instant's events are applied.
	handled bool
	wakes   map[float64]bool
	// standbyCost accumulates warm-pool storage not tied to one VM interval.
	standbyCost float64
	// warm is the warm pool a planned execution may claim from (nil: none).
	warm *plannedWarmPool
}

// plannedWarmPool is a warm pool of stopped VMs the planner may claim; each member costs
// storage from submission until it is started, or until the workflow ends.
type plannedWarmPool struct {
	types   []catalog.InstanceType
	claimed []bool
}

func newSim(tr *Trace, cat catalog.Catalog, seed uint64) *sim {
	n := len(tr.Tasks)
	s := &sim{
		tr: tr, cat: cat, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		waitParents: make([]int, n), runnable: make([]bool, n), runnableAt: make([]float64, n),
		started: make([]bool, n), start: make([]float64, n), finish: make([]float64, n),
		doneTask: make([]bool, n), vmOf: make([]int, n), wakes: map[float64]bool{},
	}
	for i := range tr.Tasks {
		s.waitParents[i] = len(tr.Tasks[i].Parents)
		s.vmOf[i] = -1
		if s.waitParents[i] == 0 {
			s.runnable[i] = true
		}
	}
	return s
}

func (s *sim) push(t float64, k evKind, ref int) {
	s.seq++
	heap.Push(&s.events, event{t: t, kind: k, ref: ref, seq: s.seq})
}

// latency draws a tier latency for typ.
func (s *sim) latency(typ catalog.InstanceType, tier string) float64 {
	u := latencyQuantileFloor + s.rng.Float64()*(latencyQuantileCeil-latencyQuantileFloor)
	switch tier {
	case events.TierHot:
		return typ.Hot.Sample(u)
	case events.TierWarm:
		return typ.Warm.Sample(u)
	default:
		return typ.Cold.Sample(u)
	}
}

// allocated counts VMs and cores not yet released, for quotas.
func (s *sim) allocated() (n int, cores float64) {
	for _, v := range s.vms {
		if !v.released() {
			n++
			cores += v.typ.Cores
		}
	}
	return n, cores
}

// withinQuota reports whether one more VM of typ fits the account's quotas.
func (s *sim) withinQuota(typ catalog.InstanceType) bool {
	n, cores := s.allocated()
	q := s.cat.Quotas
	return (q.MaxVMs <= 0 || n+1 <= q.MaxVMs) && (q.MaxCores <= 0 || cores+typ.Cores <= q.MaxCores+1e-9)
}

// request asks for a VM of typ from tier at time at (≥ now); it is ready after the tier's
// latency.
func (s *sim) request(typ catalog.InstanceType, tier string, at float64) *simVM {
	at = max(at, s.now)
	v := &simVM{
		id: len(s.vms), typ: typ, tier: tier, requestAt: at, releaseAt: math.NaN(),
		freeCores: typ.Cores, freeMem: typ.MemoryBytes, standbyFrom: at, hotFrom: math.NaN(),
	}
	v.name = "sim-" + strconv.Itoa(v.id)
	v.key = v.name
	v.readyAt = at + s.latency(typ, tier)
	v.idleSince = v.readyAt
	s.vms = append(s.vms, v)
	s.push(v.readyAt, evVMReady, v.id)
	return v
}

// place starts task i on v now.
func (s *sim) place(i int, v *simVM) {
	t := &s.tr.Tasks[i]
	s.runnable[i] = false
	s.started[i] = true
	s.start[i] = s.now
	s.vmOf[i] = v.id
	v.freeCores -= t.CPU
	v.freeMem -= t.Memory
	v.running++
	s.push(s.now+t.Runtime, evTaskDone, i)
}

// release ends v's running interval now. A VM released before it is ready is a cancelled
// launch: clouds do not bill a VM that never reached the running state.
func (s *sim) release(v *simVM) {
	if v.released() {
		return
	}
	if !v.ready {
		v.cancelled = true
		v.releaseAt = s.now
		return
	}
	v.releaseAt = max(s.now, v.readyAt)
}

// wake makes the simulation call the policy again at t.
func (s *sim) wake(t float64) {
	if t > s.now && !s.wakes[t] {
		s.wakes[t] = true
		s.push(t, evWake, -1)
	}
}

// controller decides, at each instant something happened, what to request, place and release.
type controller interface {
	step(s *sim) error
}

// run executes the workflow to completion under p.
func (s *sim) run(p controller) error {
	if err := p.step(s); err != nil {
		return err
	}
	for s.events.Len() > 0 {
		s.now = s.events[0].t
		s.handled = false
		for s.events.Len() > 0 && s.events[0].t == s.now {
			e := heap.Pop(&s.events).(event)
			switch e.kind {
			case evVMReady:
				if v := s.vms[e.ref]; !v.cancelled {
					v.ready = true
					s.handled = true
				}
			case evTaskDone:
				s.taskDone(e.ref)
				s.handled = true
			}
		}
		if err := p.step(s); err != nil {
			return err
		}
	}
	if s.done != len(s.tr.Tasks) {
		return fmt.Errorf("%s: %d of %d tasks finished: %w", s.tr.Name, s.done, len(s.tr.Tasks), ErrStuck)
	}
	for _, v := range s.vms {
		s.release(v)
	}
	return nil
}

func (s *sim) taskDone(i int) {
	s.done++
	s.doneTask[i] = true
	s.finish[i] = s.now
	v := s.vms[s.vmOf[i]]
	t := &s.tr.Tasks[i]
	v.freeCores += t.CPU
	v.freeMem += t.Memory
	v.running--
	if v.running == 0 {
		v.idleSince = s.now
	}
	for _, c := range t.Children {
		s.waitParents[c]--
		if s.waitParents[c] == 0 {
			s.runnable[c] = true
			s.runnableAt[c] = s.now
		}
	}
}

// isRunning reports whether task i has started and not finished.
func (s *sim) isRunning(i int) bool { return s.started[i] && !s.doneTask[i] }

// makespan is when the last task finished.
func (s *sim) makespan() float64 {
	m := 0.0
	for _, f := range s.finish {
		m = max(m, f)
	}
	return m
}

// cost is the bill: every VM interval per second with the minimum charge, plus warm
// standby storage.
func (s *sim) cost() float64 {
	c := s.standbyCost
	if wp := s.warm; wp != nil {
		for k, claimed := range wp.claimed {
			if !claimed {
				c += s.makespan() * wp.types[k].WarmCostPerSecond
			}
		}
	}
	for _, v := range s.vms {
		if v.tier == events.TierWarm {
			// A stopped VM's storage is billed until it is started, even when that start
			// is cancelled before the VM runs.
			c += (v.requestAt - v.standbyFrom) * v.typ.WarmCostPerSecond
		}
		if v.cancelled {
			continue
		}
		from := v.readyAt
		if !math.IsNaN(v.hotFrom) {
			from = min(from, v.hotFrom)
		}
		c += s.cat.BilledCost(v.typ, v.releaseAt-from)
	}
	return c
}
