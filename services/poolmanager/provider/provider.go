// Package provider is the boundary between the pool manager and whatever makes machines:
// the local host, the cloud simulator, or a real cloud. Every implementation must make
// Launch idempotent on Spec.Key, the way EC2's ClientToken is: a retried launch with the
// same key returns the VM the first call made and never a second one.
package provider

import (
	"context"
	"errors"
	"time"
)

// State is a provider-side VM state.
type State string

// Provider-side VM states.
const (
	StatePending    State = "pending"
	StateRunning    State = "running"
	StateStopping   State = "stopping"
	StateStopped    State = "stopped"
	StateTerminated State = "terminated"
	StateFailed     State = "failed"
)

// Spec asks for one VM.
type Spec struct {
	// Key is the launch idempotency key, stored before the call and reused on every retry.
	Key          string
	WorkflowID   string
	InstanceType string
	Cores        float64
	MemoryBytes  int64
}

// VM is a provider's view of one machine.
type VM struct {
	ID           string
	Key          string
	InstanceType string
	Cores        float64
	MemoryBytes  int64
	State        State
	LaunchedAt   time.Time
	// ReadyAt is when the VM is (or will be) running and able to take tasks.
	ReadyAt time.Time
}

// Errors a caller acts on. Health errors (ErrUnavailable) trip circuit breakers; ErrInvalid,
// ErrQuotaExceeded and context cancellation do not.
var (
	ErrNotFound      = errors.New("vm not found")
	ErrInvalid       = errors.New("invalid vm request")
	ErrQuotaExceeded = errors.New("quota exceeded")
	ErrUnavailable   = errors.New("provider unavailable")
)

// Provider makes, starts, stops and destroys VMs.
type Provider interface {
	// Name identifies the provider ("local", "sim", "ec2").
	Name() string
	// Launch creates a VM, or returns the one already made for spec.Key.
	Launch(ctx context.Context, spec Spec) (VM, error)
	// Start starts a stopped (warm) VM.
	Start(ctx context.Context, id string) (VM, error)
	// Stop stops a running VM, keeping it as warm standby.
	Stop(ctx context.Context, id string) (VM, error)
	// Terminate destroys a VM.
	Terminate(ctx context.Context, id string) error
	// Describe reports a VM's current state.
	Describe(ctx context.Context, id string) (VM, error)
}

// IsHealthError reports whether err says the provider itself is unhealthy, which is what a
// circuit breaker should count.
func IsHealthError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrQuotaExceeded) || errors.Is(err, ErrNotFound) {
		return false
	}
	return true
}
