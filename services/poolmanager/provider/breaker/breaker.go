// Package breaker puts circuit breakers (sony/gobreaker) in front of any provider.Provider,
// as DESIGN.md's reliability settings ask: provider-health errors (provider.IsHealthError)
// trip a breaker; invalid requests, quota refusals, unknown VMs and cancellations do not.
// While a breaker is open, calls fail at once with an error wrapping ErrOpen, and the pool
// falls back to another tier or instance type (pool.Fallback) instead of waiting on a
// provider that is down.
//
// Breakers are scoped the way clouds fail. Capacity shortages hit one instance type
// (EC2's InsufficientInstanceCapacity), so launches (the cold tier) and starts of stopped
// VMs (the warm tier) each have a breaker per type; Stop, Terminate and Describe share a
// control breaker. A provider-wide breaker sits above them all and trips on failures across
// every scope, so a full outage is detected after a handful of calls instead of a handful per
// type. Open(tier, type) answers the fallback's question: may I use this option now?
//
// gobreaker reads the wall clock for its open timeout, so under a virtual clock a breaker
// re-closes after Settings.Timeout of real time, not simulated time.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/foresight-run/foresight/services/poolmanager/provider"
)

// ErrOpen is wrapped by every error a call gets because a breaker refused it (open, or
// half-open with its probe already in flight). Callers check errors.Is(err, ErrOpen) and
// fall back to another tier or type.
var ErrOpen = errors.New("circuit breaker open")

// Tiers a scope can name. They match events.TierWarm and events.TierCold.
const (
	TierWarm    = "warm"
	TierCold    = "cold"
	TierControl = "control"
	// TierProvider names the provider-wide breaker.
	TierProvider = "provider"
)

// Scope is what one breaker guards: launches (cold) or starts (warm) of one instance type,
// the control calls, or the whole provider.
type Scope struct {
	Tier         string
	InstanceType string
}

// String renders the scope as "cold/m7i.large", "control" or "provider".
func (s Scope) String() string {
	if s.InstanceType == "" {
		return s.Tier
	}
	return s.Tier + "/" + s.InstanceType
}

// Settings tune the breakers; zero fields take the defaults in brackets.
type Settings struct {
	// ConsecutiveFailures of one scope that open its breaker [5].
	ConsecutiveFailures uint32
	// ProviderConsecutiveFailures across all scopes that open the provider-wide breaker [10].
	ProviderConsecutiveFailures uint32
	// Timeout an open breaker waits before letting a probe through (half-open) [30 s].
	Timeout time.Duration
	// HalfOpenRequests are the probes allowed when half-open; that many successes close it [1].
	HalfOpenRequests uint32
	// Interval clears a closed breaker's counts, so rare failures never add up [60 s].
	Interval time.Duration
	// OnStateChange, if set, is told of every transition (for logs and metrics).
	OnStateChange func(scope Scope, from, to gobreaker.State)
}

func (s Settings) withDefaults() Settings {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = 5
	}
	if s.ProviderConsecutiveFailures == 0 {
		s.ProviderConsecutiveFailures = 10
	}
	if s.Timeout <= 0 {
		s.Timeout = 30 * time.Second
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	if s.Interval <= 0 {
		s.Interval = time.Minute
	}
	return s
}

type cb = gobreaker.CircuitBreaker[provider.VM]

// Provider is a provider.Provider whose calls pass through circuit breakers. Safe for
// concurrent use.
type Provider struct {
	inner    provider.Provider
	settings Settings
	global   *cb

	mu       sync.Mutex
	breakers map[Scope]*cb
	// types remembers each VM's instance type, so Start is guarded by that type's warm
	// breaker without an extra Describe.
	types map[string]string
}

var _ provider.Provider = (*Provider)(nil)

// New wraps inner.
func New(inner provider.Provider, s Settings) *Provider {
	p := &Provider{
		inner:    inner,
		settings: s.withDefaults(),
		breakers: map[Scope]*cb{},
		types:    map[string]string{},
	}
	p.global = p.newBreaker(Scope{Tier: TierProvider}, p.settings.ProviderConsecutiveFailures)
	return p
}

func (p *Provider) newBreaker(scope Scope, trip uint32) *cb {
	st := p.settings
	return gobreaker.NewCircuitBreaker[provider.VM](gobreaker.Settings{
		Name:        scope.String(),
		MaxRequests: st.HalfOpenRequests,
		Interval:    st.Interval,
		Timeout:     st.Timeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= trip },
		// Only health errors are failures. The rest say nothing about the provider's health,
		// so they count neither way; a refusal by an inner breaker is not the provider's
		// failure either.
		IsExcluded: func(err error) bool {
			return err != nil && (!provider.IsHealthError(err) || errors.Is(err, ErrOpen))
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if st.OnStateChange != nil {
				st.OnStateChange(scope, from, to)
			}
		},
	})
}

func (p *Provider) breaker(scope Scope) *cb {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.breakers[scope]
	if !ok {
		b = p.newBreaker(scope, p.settings.ConsecutiveFailures)
		p.breakers[scope] = b
	}
	return b
}

func (p *Provider) remember(vm provider.VM) {
	if vm.ID == "" || vm.InstanceType == "" {
		return
	}
	p.mu.Lock()
	p.types[vm.ID] = vm.InstanceType
	p.mu.Unlock()
}

func (p *Provider) typeOf(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.types[id]
}

// call runs fn through the provider-wide breaker and the scope's breaker.
func (p *Provider) call(op string, scope Scope, fn func() (provider.VM, error)) (provider.VM, error) {
	b := p.breaker(scope)
	vm, err := p.global.Execute(func() (provider.VM, error) {
		vm, err := b.Execute(fn)
		if refused(err) {
			return vm, fmt.Errorf("%s: %w: %s: %w", op, ErrOpen, scope, err)
		}
		return vm, err
	})
	if refused(err) {
		return vm, fmt.Errorf("%s: %w: %s: %w", op, ErrOpen, TierProvider, err)
	}
	if err == nil {
		p.remember(vm)
	}
	return vm, err
}

func refused(err error) bool {
	return errors.Is(err, gobreaker.ErrOpenState) && !errors.Is(err, ErrOpen) ||
		errors.Is(err, gobreaker.ErrTooManyRequests) && !errors.Is(err, ErrOpen)
}

// Name returns the inner provider's name.
func (p *Provider) Name() string { return p.inner.Name() }

// Launch goes through the cold-tier breaker of spec.InstanceType.
func (p *Provider) Launch(ctx context.Context, spec provider.Spec) (provider.VM, error) {
	return p.call("launch "+spec.Key, Scope{Tier: TierCold, InstanceType: spec.InstanceType}, func() (provider.VM, error) {
		return p.inner.Launch(ctx, spec)
	})
}

// Start goes through the warm-tier breaker of the VM's instance type (as last seen).
func (p *Provider) Start(ctx context.Context, id string) (provider.VM, error) {
	return p.call("start "+id, Scope{Tier: TierWarm, InstanceType: p.typeOf(id)}, func() (provider.VM, error) {
		return p.inner.Start(ctx, id)
	})
}

// Stop goes through the control breaker.
func (p *Provider) Stop(ctx context.Context, id string) (provider.VM, error) {
	return p.call("stop "+id, Scope{Tier: TierControl}, func() (provider.VM, error) {
		return p.inner.Stop(ctx, id)
	})
}

// Terminate goes through the control breaker.
func (p *Provider) Terminate(ctx context.Context, id string) error {
	_, err := p.call("terminate "+id, Scope{Tier: TierControl}, func() (provider.VM, error) {
		return provider.VM{}, p.inner.Terminate(ctx, id)
	})
	if err == nil {
		// A terminated VM never starts again, so its type need not be remembered.
		p.mu.Lock()
		delete(p.types, id)
		p.mu.Unlock()
	}
	return err
}

// Describe goes through the control breaker.
func (p *Provider) Describe(ctx context.Context, id string) (provider.VM, error) {
	return p.call("describe "+id, Scope{Tier: TierControl}, func() (provider.VM, error) {
		return p.inner.Describe(ctx, id)
	})
}

// Open reports whether a call for this tier and instance type would be refused now: the
// provider-wide breaker is open, or the type's breaker for that tier is. The hot tier needs
// no provider call, so it is never open; an empty instanceType asks about the tier as a
// whole, which only the provider-wide breaker closes off. Half-open counts as not open: the
// probe is how the breaker learns the provider is back.
func (p *Provider) Open(tier, instanceType string) bool {
	if tier == "hot" {
		return false
	}
	if p.global.State() == gobreaker.StateOpen {
		return true
	}
	if instanceType == "" {
		return false
	}
	p.mu.Lock()
	b, ok := p.breakers[Scope{Tier: tier, InstanceType: instanceType}]
	p.mu.Unlock()
	return ok && b.State() == gobreaker.StateOpen
}

// Status is one breaker's state, for health endpoints and metrics.
type Status struct {
	Scope  Scope
	State  gobreaker.State
	Counts gobreaker.Counts
}

// Statuses returns every breaker's state, the provider-wide one first, then by scope.
func (p *Provider) Statuses() []Status {
	p.mu.Lock()
	out := make([]Status, 0, len(p.breakers)+1)
	for scope, b := range p.breakers {
		out = append(out, Status{Scope: scope, State: b.State(), Counts: b.Counts()})
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Scope.String() < out[j].Scope.String() })
	g := Status{Scope: Scope{Tier: TierProvider}, State: p.global.State(), Counts: p.global.Counts()}
	return append([]Status{g}, out...)
}

// State returns the state of one scope's breaker (closed if it has never been used).
func (p *Provider) State(scope Scope) gobreaker.State {
	if scope.Tier == TierProvider {
		return p.global.State()
	}
	p.mu.Lock()
	b, ok := p.breakers[scope]
	p.mu.Unlock()
	if !ok {
		return gobreaker.StateClosed
	}
	return b.State()
}
