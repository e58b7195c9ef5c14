// Package local is the provider whose "VMs" are slices of this host's cores and memory.
// Tasks placed on them run as real OS processes (see package agent). VM ids derive from the
// launch key, so a retried launch — even after a restart — names the same VM.
package local

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
)

// Provider is the local host provider. Safe for concurrent use.
type Provider struct {
	clock     clock.Clock
	maxCores  float64
	maxMemory int64
	mu        sync.Mutex
	vms       map[string]provider.VM
}

// New returns a provider whose VMs may each be at most maxCores and maxMemory.
func New(c clock.Clock, maxCores float64, maxMemory int64) *Provider {
	return &Provider{clock: c, maxCores: maxCores, maxMemory: maxMemory, vms: map[string]provider.VM{}}
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return "local" }

// ID returns the VM id a launch key maps to.
func ID(key string) string { return "local-" + events.DerivedID("local-vm", key)[:13] }

// Launch implements provider.Provider: a local VM is ready at once.
func (p *Provider) Launch(ctx context.Context, spec provider.Spec) (provider.VM, error) {
	if err := ctx.Err(); err != nil {
		return provider.VM{}, fmt.Errorf("launch %s: %w", spec.Key, err)
	}
	if spec.Key == "" {
		return provider.VM{}, fmt.Errorf("%w: empty idempotency key", provider.ErrInvalid)
	}
	if spec.Cores <= 0 || spec.Cores > p.maxCores || spec.MemoryBytes <= 0 || spec.MemoryBytes > p.maxMemory {
		return provider.VM{}, fmt.Errorf("%w: %.2f cores / %d bytes exceeds this host (%.2f cores / %d bytes)",
			provider.ErrInvalid, spec.Cores, spec.MemoryBytes, p.maxCores, p.maxMemory)
	}
	id := ID(spec.Key)
	p.mu.Lock()
	defer p.mu.Unlock()
	if vm, ok := p.vms[id]; ok {
		return vm, nil
	}
	now := p.clock.Now()
	vm := provider.VM{ID: id, Key: spec.Key, InstanceType: cmp.Or(spec.InstanceType, "local"), Cores: spec.Cores,
		MemoryBytes: spec.MemoryBytes, State: provider.StateRunning, LaunchedAt: now, ReadyAt: now}
	p.vms[id] = vm
	return vm, nil
}

// Start implements provider.Provider.
func (p *Provider) Start(ctx context.Context, id string) (provider.VM, error) {
	return p.set(id, provider.StateRunning)
}

// Stop implements provider.Provider.
func (p *Provider) Stop(ctx context.Context, id string) (provider.VM, error) {
	return p.set(id, provider.StateStopped)
}

// Terminate implements provider.Provider.
func (p *Provider) Terminate(ctx context.Context, id string) error {
	_, err := p.set(id, provider.StateTerminated)
	return err
}

// Describe implements provider.Provider.
func (p *Provider) Describe(ctx context.Context, id string) (provider.VM, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	vm, ok := p.vms[id]
	if !ok {
		return provider.VM{}, fmt.Errorf("%w: %s", provider.ErrNotFound, id)
	}
	return vm, nil
}

func (p *Provider) set(id string, s provider.State) (provider.VM, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	vm, ok := p.vms[id]
	if !ok || vm.State == provider.StateTerminated {
		return provider.VM{}, fmt.Errorf("%w: %s", provider.ErrNotFound, id)
	}
	vm.State = s
	if s == provider.StateRunning {
		vm.ReadyAt = p.clock.Now()
	}
	p.vms[id] = vm
	return vm, nil
}

var _ provider.Provider = (*Provider)(nil)
