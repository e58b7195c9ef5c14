package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
)

// Name is the provider name the simulator reports.
const Name = "sim"

// Window is a span of clock time, [Start, End).
type Window struct {
	Start, End time.Time
}

func (w Window) contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Faults are the failures the simulator injects. The zero value injects none.
type Faults struct {
	// ErrorRate is the probability that any call fails with provider.ErrUnavailable before
	// it has any effect.
	ErrorRate float64
	// LostResponseRate is the probability that a Launch or Start takes effect but the caller
	// still gets provider.ErrUnavailable, as when a response is lost in transit.
	LostResponseRate float64
	// Outages are windows of clock time during which every call fails with
	// provider.ErrUnavailable.
	Outages []Window
	// SlowLaunchRate is the probability that a launch or start takes SlowLaunchFactor times
	// its sampled latency (a capacity shortage or a slow boot).
	SlowLaunchRate   float64
	SlowLaunchFactor float64
	// Types, if set, confines ErrorRate and Outages to launches and starts of these instance
	// types, as when one type runs out of capacity (EC2's InsufficientInstanceCapacity);
	// other calls then never fail.
	Types []string
}

// Options configure a Sim.
type Options struct {
	// Catalog gives instance types, latencies, billing and quotas. Required.
	Catalog catalog.Catalog
	// Clock is the time source; clock.Virtual in simulations and tests. Required.
	Clock clock.Clock
	// Seed makes latencies and injected failures reproducible.
	Seed uint64
	// Faults to inject.
	Faults Faults
	// BillBoot bills each run from the launch or start request instead of from ReadyAt.
	// EC2 bills from the running state, which an instance reaches before our agent is ready,
	// so the truth lies between the two; the default (false) bills from ReadyAt, as the
	// planner's cost model and the benchmark simulator do.
	BillBoot bool
	// Ledger holds the simulated cloud's state. Pass the ledger of a previous Sim to model a
	// restart of the caller against the same cloud; nil starts an empty cloud.
	Ledger *Ledger
}

// Sim is a simulated cloud. Safe for concurrent use.
type Sim struct {
	cat      catalog.Catalog
	clk      clock.Clock
	seed     uint64
	billBoot bool
	ledger   *Ledger

	mu     sync.Mutex // guards rng and faults
	rng    *rand.Rand
	faults Faults
}

var _ provider.Provider = (*Sim)(nil)

// New returns a simulator over opts.Ledger (or a fresh one).
func New(opts Options) (*Sim, error) {
	if opts.Clock == nil {
		return nil, fmt.Errorf("sim: Options.Clock is required")
	}
	if len(opts.Catalog.Types) == 0 {
		return nil, fmt.Errorf("sim: Options.Catalog has no instance types")
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	l := opts.Ledger
	if l == nil {
		l = NewLedger()
	}
	return &Sim{
		cat:      opts.Catalog,
		clk:      opts.Clock,
		seed:     opts.Seed,
		billBoot: opts.BillBoot,
		ledger:   l,
		rng:      rand.New(rand.NewPCG(opts.Seed, 0x5eed_f00d)),
		faults:   opts.Faults,
	}, nil
}

func (f Faults) validate() error {
	for name, p := range map[string]float64{
		"ErrorRate": f.ErrorRate, "LostResponseRate": f.LostResponseRate, "SlowLaunchRate": f.SlowLaunchRate,
	} {
		if math.IsNaN(p) || p < 0 || p > 1 {
			return fmt.Errorf("Faults.%s: must be in [0,1], got %v", name, p)
		}
	}
	if f.SlowLaunchRate > 0 && !(f.SlowLaunchFactor >= 1) {
		return fmt.Errorf("Faults.SlowLaunchFactor: must be >= 1 when SlowLaunchRate is set, got %v", f.SlowLaunchFactor)
	}
	for i, w := range f.Outages {
		if !w.End.After(w.Start) {
			return fmt.Errorf("Faults.Outages[%d]: End must be after Start", i)
		}
	}
	return nil
}

// SetFaults replaces the injected failures, e.g. to start or end an outage mid-test.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// Ledger returns the simulator's state, to build a restarted Sim over it.
func (s *Sim) Ledger() *Ledger { return s.ledger }

// Catalog returns the catalog the simulator follows.
func (s *Sim) Catalog() catalog.Catalog { return s.cat }

// Name returns "sim".
func (s *Sim) Name() string { return Name }

// inject decides whether a call fails before it takes effect. typ is the instance type a
// launch or start is for, "" for other calls.
func (s *Sim) inject(op, typ string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults.Types) > 0 && !slices.Contains(s.faults.Types, typ) {
		return nil
	}
	for _, w := range s.faults.Outages {
		if w.contains(now) {
			return fmt.Errorf("sim %s: outage until %s: %w", op, w.End.Format(time.RFC3339), provider.ErrUnavailable)
		}
	}
	if s.faults.ErrorRate > 0 && s.rng.Float64() < s.faults.ErrorRate {
		return fmt.Errorf("sim %s: injected error: %w", op, provider.ErrUnavailable)
	}
	return nil
}

// lostResponse decides whether a successful Launch or Start reports an error anyway.
func (s *Sim) lostResponse() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.LostResponseRate > 0 && s.rng.Float64() < s.faults.LostResponseRate
}

// latency draws how long the n-th start of the VM with this key takes. It hashes rather than
// drawing from the shared stream so that it is independent of call order.
func (s *Sim) latency(key string, n int, l catalog.Latency) time.Duration {
	h := fnv.New64a()
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], s.seed)
	binary.LittleEndian.PutUint64(buf[8:], uint64(n))
	h.Write(buf[:])
	h.Write([]byte(key))
	r := rand.New(rand.NewPCG(h.Sum64(), s.seed))
	secs := l.Sample(r.Float64())
	s.mu.Lock()
	slow := s.faults.SlowLaunchRate > 0 && r.Float64() < s.faults.SlowLaunchRate
	factor := s.faults.SlowLaunchFactor
	s.mu.Unlock()
	if slow {
		secs *= factor
	}
	return time.Duration(secs * float64(time.Second))
}

func checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sim %s: %w", op, err)
	}
	return nil
}

// resolveType picks the instance type for spec: the named one, or the cheapest that fits.
func (s *Sim) resolveType(spec provider.Spec) (catalog.InstanceType, error) {
	if spec.InstanceType == "" {
		it, ok := s.cat.CheapestFit(spec.Cores, spec.MemoryBytes)
		if !ok {
			return it, fmt.Errorf("no instance type fits %.2f cores and %d bytes: %w", spec.Cores, spec.MemoryBytes, provider.ErrInvalid)
		}
		return it, nil
	}
	it, ok := s.cat.Type(spec.InstanceType)
	if !ok {
		return it, fmt.Errorf("unknown instance type %q: %w", spec.InstanceType, provider.ErrInvalid)
	}
	if spec.Cores > it.Cores || spec.MemoryBytes > it.MemoryBytes {
		return it, fmt.Errorf("%s has %.2f cores and %d bytes, asked for %.2f and %d: %w",
			it.Name, it.Cores, it.MemoryBytes, spec.Cores, spec.MemoryBytes, provider.ErrInvalid)
	}
	return it, nil
}

// Launch makes a VM for spec, or returns the one already made for spec.Key.
func (s *Sim) Launch(ctx context.Context, spec provider.Spec) (provider.VM, error) {
	if err := checkCtx(ctx, "launch"); err != nil {
		return provider.VM{}, err
	}
	if spec.Key == "" {
		return provider.VM{}, fmt.Errorf("sim launch: empty idempotency key: %w", provider.ErrInvalid)
	}
	if spec.Cores < 0 || spec.MemoryBytes < 0 || math.IsNaN(spec.Cores) {
		return provider.VM{}, fmt.Errorf("sim launch %s: negative size: %w", spec.Key, provider.ErrInvalid)
	}
	now := s.clk.Now()
	it, err := s.resolveType(spec)
	if err != nil {
		return provider.VM{}, fmt.Errorf("sim launch %s: %w", spec.Key, err)
	}
	if err := s.inject("launch "+spec.Key, it.Name, now); err != nil {
		return provider.VM{}, err
	}

	l := s.ledger
	l.mu.Lock()
	if id, ok := l.byKey[spec.Key]; ok {
		v := l.vms[id]
		v.advance(now)
		vm := v.view()
		l.mu.Unlock()
		if v.spec != spec {
			return provider.VM{}, fmt.Errorf("sim launch: key %s was used for %s (%s): %w", spec.Key, vm.ID, vm.InstanceType, provider.ErrInvalid)
		}
		return vm, nil
	}
	if err := l.checkQuota(it, s.cat.Quotas); err != nil {
		l.mu.Unlock()
		return provider.VM{}, fmt.Errorf("sim launch %s: %w", spec.Key, err)
	}
	l.seq++
	v := &vmRecord{
		id:         fmt.Sprintf("sim-%06d", l.seq),
		spec:       spec,
		it:         it,
		state:      provider.StatePending,
		launchedAt: now,
	}
	v.begin(now, s.latency(spec.Key, 0, it.Cold), s.billBoot)
	l.vms[v.id] = v
	l.live(v, +1)
	l.byKey[spec.Key] = v.id
	l.order = append(l.order, v.id)
	vm := v.view()
	l.mu.Unlock()

	if s.lostResponse() {
		return provider.VM{}, fmt.Errorf("sim launch %s: response lost: %w", spec.Key, provider.ErrUnavailable)
	}
	return vm, nil
}

// Start starts a stopped VM; starting a pending or running VM returns it unchanged.
func (s *Sim) Start(ctx context.Context, id string) (provider.VM, error) {
	if err := checkCtx(ctx, "start"); err != nil {
		return provider.VM{}, err
	}
	now := s.clk.Now()
	l := s.ledger
	l.mu.Lock()
	v, err := l.get(id, now)
	if err != nil {
		l.mu.Unlock()
		if ierr := s.inject("start "+id, "", now); ierr != nil {
			return provider.VM{}, ierr
		}
		return provider.VM{}, fmt.Errorf("sim start: %w", err)
	}
	// Faults are decided under the ledger lock (lock order: ledger, then s.mu) so the type
	// is known; a failed call still has no effect.
	if err := s.inject("start "+id, v.it.Name, now); err != nil {
		l.mu.Unlock()
		return provider.VM{}, err
	}
	switch v.state {
	case provider.StatePending, provider.StateRunning:
		vm := v.view()
		l.mu.Unlock()
		return vm, nil
	case provider.StateStopped:
	default:
		st := v.state
		l.mu.Unlock()
		return provider.VM{}, fmt.Errorf("sim start %s: vm is %s: %w", id, st, provider.ErrInvalid)
	}
	if err := l.checkQuota(v.it, s.cat.Quotas); err != nil {
		l.mu.Unlock()
		return provider.VM{}, fmt.Errorf("sim start %s: %w", id, err)
	}
	v.closeWarm(now)
	l.live(v, +1)
	v.state = provider.StatePending
	v.begin(now, s.latency(v.spec.Key, v.starts, v.it.Warm), s.billBoot)
	vm := v.view()
	l.mu.Unlock()

	if s.lostResponse() {
		return provider.VM{}, fmt.Errorf("sim start %s: response lost: %w", id, provider.ErrUnavailable)
	}
	return vm, nil
}

// withVM runs fn on VM id with the ledger locked, after the checks every call on an
// existing VM makes: the context, injected faults, and that the VM exists.
func (s *Sim) withVM(ctx context.Context, op, id string, fn func(l *Ledger, v *vmRecord, now time.Time) error) error {
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	now := s.clk.Now()
	if err := s.inject(op+" "+id, "", now); err != nil {
		return err
	}
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	v, err := l.get(id, now)
	if err != nil {
		return fmt.Errorf("sim %s: %w", op, err)
	}
	return fn(l, v, now)
}

// Stop stops a pending or running VM, keeping it as a warm standby; stopping a stopped VM
// returns it unchanged. The stop is immediate: billing for compute ends now.
func (s *Sim) Stop(ctx context.Context, id string) (provider.VM, error) {
	var out provider.VM
	err := s.withVM(ctx, "stop", id, func(l *Ledger, v *vmRecord, now time.Time) error {
		switch v.state {
		case provider.StateStopped:
			out = v.view()
			return nil
		case provider.StatePending, provider.StateRunning:
		default:
			return fmt.Errorf("sim stop %s: vm is %s: %w", id, v.state, provider.ErrInvalid)
		}
		v.closeRun(now, s.cat.MinimumBillSeconds)
		l.live(v, -1)
		v.state = provider.StateStopped
		v.stoppedAt = now
		out = v.view()
		return nil
	})
	return out, err
}

// Terminate destroys a VM; terminating a terminated VM succeeds.
func (s *Sim) Terminate(ctx context.Context, id string) error {
	return s.withVM(ctx, "terminate", id, func(l *Ledger, v *vmRecord, now time.Time) error {
		switch v.state {
		case provider.StatePending, provider.StateRunning:
			v.closeRun(now, s.cat.MinimumBillSeconds)
			l.live(v, -1)
		case provider.StateStopped:
			v.closeWarm(now)
		}
		v.state = provider.StateTerminated
		return nil
	})
}

// Describe reports a VM's state at the clock's current time. Terminated VMs stay
// describable, as EC2 keeps them visible for a while.
func (s *Sim) Describe(ctx context.Context, id string) (provider.VM, error) {
	var out provider.VM
	err := s.withVM(ctx, "describe", id, func(_ *Ledger, v *vmRecord, _ time.Time) error {
		out = v.view()
		return nil
	})
	return out, err
}

// Usage is what one VM has been billed so far.
type Usage struct {
	VMID         string
	Key          string
	InstanceType string
	State        provider.State
	// Starts counts launches plus starts from stopped; each carried a minimum charge.
	Starts int
	// RunSeconds is the billed-for time spent running (and booting, with BillBoot);
	// BilledRunSeconds adds the minimums.
	RunSeconds       float64
	BilledRunSeconds float64
	// WarmSeconds is the time spent stopped.
	WarmSeconds float64
	ComputeCost float64
	WarmCost    float64
}

// Total is the VM's bill in USD.
func (u Usage) Total() float64 { return u.ComputeCost + u.WarmCost }

// Usage returns one VM's bill up to the clock's current time.
func (s *Sim) Usage(id string) (Usage, error) {
	now := s.clk.Now()
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	v, err := l.get(id, now)
	if err != nil {
		return Usage{}, fmt.Errorf("sim usage: %w", err)
	}
	return v.usage(now, s.cat.MinimumBillSeconds), nil
}

// Usages returns every VM's bill up to the clock's current time, in launch order.
func (s *Sim) Usages() []Usage {
	now := s.clk.Now()
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Usage, 0, len(l.order))
	for _, id := range l.order {
		v := l.vms[id]
		v.advance(now)
		out = append(out, v.usage(now, s.cat.MinimumBillSeconds))
	}
	return out
}

// Bill returns the total billed so far in USD: compute with per-start minimums, plus warm
// standby storage. A running VM is billed as if stopped now, its minimum included.
func (s *Sim) Bill() float64 {
	total := 0.0
	for _, u := range s.Usages() {
		total += u.Total()
	}
	return total
}

// VMs returns every VM the simulated cloud holds, terminated ones included, in launch order.
func (s *Sim) VMs() []provider.VM {
	now := s.clk.Now()
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]provider.VM, 0, len(l.order))
	for _, id := range l.order {
		v := l.vms[id]
		v.advance(now)
		out = append(out, v.view())
	}
	return out
}

// Ledger is the simulated cloud's durable state: its VMs and the idempotency keys that made
// them. Safe for concurrent use; share it between Sims to model a caller's restart.
type Ledger struct {
	mu    sync.Mutex
	seq   int
	vms   map[string]*vmRecord
	byKey map[string]string
	order []string
	// liveVMs and liveCores count pending and running VMs, what the quotas limit.
	liveVMs   int
	liveCores float64
}

// NewLedger returns an empty cloud.
func NewLedger() *Ledger {
	return &Ledger{vms: map[string]*vmRecord{}, byKey: map[string]string{}}
}

// Keys returns the idempotency keys the ledger has seen, sorted.
func (l *Ledger) Keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.byKey))
	for k := range l.byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// get returns the VM with id, its state advanced to now. Caller holds l.mu.
func (l *Ledger) get(id string, now time.Time) (*vmRecord, error) {
	v, ok := l.vms[id]
	if !ok {
		return nil, fmt.Errorf("vm %q: %w", id, provider.ErrNotFound)
	}
	v.advance(now)
	return v, nil
}

// checkQuota reports ErrQuotaExceeded if one more VM of type it would pass the quotas.
// Caller holds l.mu.
func (l *Ledger) checkQuota(it catalog.InstanceType, q catalog.Quotas) error {
	if q.MaxVMs > 0 && l.liveVMs+1 > q.MaxVMs {
		return fmt.Errorf("%d of %d VMs running: %w", l.liveVMs, q.MaxVMs, provider.ErrQuotaExceeded)
	}
	if q.MaxCores > 0 && l.liveCores+it.Cores > q.MaxCores+1e-9 {
		return fmt.Errorf("%.0f of %.0f vCPUs running, %s needs %.0f: %w", l.liveCores, q.MaxCores, it.Name, it.Cores, provider.ErrQuotaExceeded)
	}
	return nil
}

// live adds (or with sign −1 removes) a VM from the quota counts. Caller holds l.mu.
func (l *Ledger) live(v *vmRecord, sign int) {
	l.liveVMs += sign
	l.liveCores += float64(sign) * v.it.Cores
}

// vmRecord is one simulated VM and its billing meter.
type vmRecord struct {
	id         string
	spec       provider.Spec
	it         catalog.InstanceType
	state      provider.State
	launchedAt time.Time
	readyAt    time.Time

	starts        int
	runStart      time.Time // when billing of the open run segment starts
	stoppedAt     time.Time // start of the open warm segment
	runSeconds    float64   // closed run segments
	billedSeconds float64   // closed run segments with their minimums
	warmSeconds   float64   // closed warm segments
}

// begin opens a run segment now that ends pending after lat, billed from now if billBoot,
// else from when it is ready.
func (v *vmRecord) begin(now time.Time, lat time.Duration, billBoot bool) {
	v.starts++
	v.readyAt = now.Add(lat)
	v.runStart = v.readyAt
	if billBoot {
		v.runStart = now
	}
}

// advance moves a pending VM to running once the clock has passed its ReadyAt.
func (v *vmRecord) advance(now time.Time) {
	if v.state == provider.StatePending && !now.Before(v.readyAt) {
		v.state = provider.StateRunning
	}
}

// closeRun ends the open run segment now. A run stopped before billing began (a VM stopped
// or terminated while still booting, billed from ReadyAt) never ran and costs nothing.
func (v *vmRecord) closeRun(now time.Time, minBill float64) {
	v.runSeconds += math.Max(0, now.Sub(v.runStart).Seconds())
	v.billedSeconds += billed(now, v.runStart, minBill)
}

// billed is what a run billed from start and ending at now is charged.
func billed(now, start time.Time, minBill float64) float64 {
	if now.Before(start) {
		return 0
	}
	return math.Max(now.Sub(start).Seconds(), minBill)
}

func (v *vmRecord) closeWarm(now time.Time) {
	v.warmSeconds += now.Sub(v.stoppedAt).Seconds()
}

func (v *vmRecord) usage(now time.Time, minBill float64) Usage {
	u := Usage{
		VMID: v.id, Key: v.spec.Key, InstanceType: v.it.Name, State: v.state, Starts: v.starts,
		RunSeconds: v.runSeconds, BilledRunSeconds: v.billedSeconds, WarmSeconds: v.warmSeconds,
	}
	switch v.state {
	case provider.StatePending, provider.StateRunning:
		u.RunSeconds += math.Max(0, now.Sub(v.runStart).Seconds())
		u.BilledRunSeconds += billed(now, v.runStart, minBill)
	case provider.StateStopped:
		u.WarmSeconds += now.Sub(v.stoppedAt).Seconds()
	}
	u.ComputeCost = u.BilledRunSeconds * v.it.PricePerSecond
	u.WarmCost = u.WarmSeconds * v.it.WarmCostPerSecond
	return u
}

func (v *vmRecord) view() provider.VM {
	return provider.VM{
		ID:           v.id,
		Key:          v.spec.Key,
		InstanceType: v.it.Name,
		Cores:        v.it.Cores,
		MemoryBytes:  v.it.MemoryBytes,
		State:        v.state,
		LaunchedAt:   v.launchedAt,
		ReadyAt:      v.readyAt,
	}
}
