// Package providertest is the conformance suite every provider.Provider must pass, in the
// style of Watermill's pubsub tests: one shared suite, run by each adapter's own tests, so
// the pool manager can rely on the same semantics from local, sim and a real cloud.
//
// A provider under test may implement two optional hooks:
//   - Advancer, when it runs on a virtual clock: the suite advances time instead of
//     sleeping while it waits for a VM to become running.
//   - Specer, when it needs a particular shape: otherwise the suite launches
//     Spec{Cores: 1, MemoryBytes: 64 MiB} with no instance type, which a provider must
//     accept by choosing a shape that fits.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/services/poolmanager/provider"
)

// Advancer is implemented by providers on a virtual clock; Advance moves that clock forward.
type Advancer interface {
	Advance(d time.Duration)
}

// Specer is implemented by providers that need a particular Spec; the suite sets Key.
type Specer interface {
	ConformanceSpec(key string) provider.Spec
}

// waitBudget bounds how long (in provider time) the suite waits for a VM to run.
const waitBudget = 30 * time.Minute

// Run runs the conformance suite. newProvider is called once per subtest and must return an
// independent provider (its own ledger); the suite terminates every VM it launched.
func Run(t *testing.T, newProvider func(t *testing.T) provider.Provider) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"Name", testName},
		{"LaunchIsIdempotentByKey", testLaunchIdempotent},
		{"ConcurrentLaunchesWithOneKeyMakeOneVM", testConcurrentLaunch},
		{"LaunchRejectsEmptyKey", testEmptyKey},
		{"LaunchHonoursCancellation", testCanceled},
		{"LaunchedVMBecomesRunning", testBecomesRunning},
		{"StopThenStart", testStopStart},
		{"Terminate", testTerminate},
		{"UnknownVMIsNotFound", testNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t)
			require.NotNil(t, p)
			h := &harness{p: p}
			t.Cleanup(h.cleanup)
			tt.run(t, h)
		})
	}
}

type harness struct {
	p   provider.Provider
	mu  sync.Mutex
	ids []string
}

func (h *harness) spec(t *testing.T, suffix string) provider.Spec {
	key := fmt.Sprintf("conformance-%s-%s", t.Name(), suffix)
	if s, ok := h.p.(Specer); ok {
		spec := s.ConformanceSpec(key)
		spec.Key = key
		return spec
	}
	return provider.Spec{Key: key, WorkflowID: "conformance", Cores: 1, MemoryBytes: 64 << 20}
}

func (h *harness) launch(t *testing.T, spec provider.Spec) provider.VM {
	t.Helper()
	vm, err := h.p.Launch(context.Background(), spec)
	require.NoError(t, err)
	h.track(vm.ID)
	return vm
}

func (h *harness) track(id string) {
	h.mu.Lock()
	h.ids = append(h.ids, id)
	h.mu.Unlock()
}

func (h *harness) cleanup() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.ids {
		_ = h.p.Terminate(context.Background(), id)
	}
}

// waitState polls Describe until the VM reaches want, advancing a virtual clock or sleeping.
func (h *harness) waitState(t *testing.T, id string, want provider.State) provider.VM {
	t.Helper()
	adv, virtual := h.p.(Advancer)
	const realStep, virtualStep = 20 * time.Millisecond, time.Second
	var waited time.Duration
	for {
		vm, err := h.p.Describe(context.Background(), id)
		require.NoError(t, err)
		if vm.State == want {
			return vm
		}
		require.NotContains(t, []provider.State{provider.StateFailed, provider.StateTerminated}, vm.State,
			"vm %s reached %s while waiting for %s", id, vm.State, want)
		if waited >= waitBudget {
			t.Fatalf("vm %s still %s after %s, want %s", id, vm.State, waited, want)
		}
		if virtual {
			adv.Advance(virtualStep)
			waited += virtualStep
		} else {
			time.Sleep(realStep)
			waited += realStep
			if waited >= 2*time.Minute {
				t.Fatalf("vm %s still %s after %s of wall time, want %s", id, vm.State, waited, want)
			}
		}
	}
}

func testName(t *testing.T, h *harness) {
	require.NotEmpty(t, h.p.Name())
}

func testLaunchIdempotent(t *testing.T, h *harness) {
	spec := h.spec(t, "a")
	first := h.launch(t, spec)
	require.NotEmpty(t, first.ID)
	require.Equal(t, spec.Key, first.Key)
	require.Contains(t, []provider.State{provider.StatePending, provider.StateRunning}, first.State)
	require.False(t, first.ReadyAt.Before(first.LaunchedAt), "ReadyAt %s before LaunchedAt %s", first.ReadyAt, first.LaunchedAt)

	again := h.launch(t, spec)
	require.Equal(t, first.ID, again.ID, "a retried launch must return the first VM")
	require.Equal(t, first.LaunchedAt, again.LaunchedAt)

	other := h.launch(t, h.spec(t, "b"))
	require.NotEqual(t, first.ID, other.ID, "a new key must make a new VM")
}

func testConcurrentLaunch(t *testing.T, h *harness) {
	spec := h.spec(t, "race")
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			vm, err := h.p.Launch(context.Background(), spec)
			ids[i], errs[i] = vm.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		h.track(ids[i])
		require.Equal(t, ids[0], ids[i], "concurrent launches with one key made different VMs")
	}
}

func testEmptyKey(t *testing.T, h *harness) {
	spec := h.spec(t, "x")
	spec.Key = ""
	vm, err := h.p.Launch(context.Background(), spec)
	if vm.ID != "" {
		h.track(vm.ID)
	}
	require.ErrorIs(t, err, provider.ErrInvalid)
	require.False(t, provider.IsHealthError(err))
}

func testCanceled(t *testing.T, h *harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	vm, err := h.p.Launch(ctx, h.spec(t, "canceled"))
	if vm.ID != "" {
		h.track(vm.ID)
	}
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, provider.IsHealthError(err))
}

func testBecomesRunning(t *testing.T, h *harness) {
	vm := h.launch(t, h.spec(t, "run"))
	got := h.waitState(t, vm.ID, provider.StateRunning)
	require.Equal(t, vm.ID, got.ID)
	require.Equal(t, vm.Key, got.Key)
	require.Positive(t, got.Cores)
	require.Positive(t, got.MemoryBytes)
}

func testStopStart(t *testing.T, h *harness) {
	ctx := context.Background()
	vm := h.launch(t, h.spec(t, "cycle"))
	h.waitState(t, vm.ID, provider.StateRunning)

	stopped, err := h.p.Stop(ctx, vm.ID)
	require.NoError(t, err)
	require.Equal(t, vm.ID, stopped.ID)
	require.Contains(t, []provider.State{provider.StateStopping, provider.StateStopped}, stopped.State)
	h.waitState(t, vm.ID, provider.StateStopped)

	again, err := h.p.Stop(ctx, vm.ID)
	require.NoError(t, err, "stopping a stopped VM must succeed")
	require.Equal(t, provider.StateStopped, again.State)

	started, err := h.p.Start(ctx, vm.ID)
	require.NoError(t, err)
	require.Equal(t, vm.ID, started.ID)
	require.Contains(t, []provider.State{provider.StatePending, provider.StateRunning}, started.State)
	running := h.waitState(t, vm.ID, provider.StateRunning)
	require.False(t, running.ReadyAt.Before(vm.ReadyAt), "a restart cannot be ready before the first launch was")

	// Starting a running VM is a no-op.
	same, err := h.p.Start(ctx, vm.ID)
	require.NoError(t, err)
	require.Equal(t, provider.StateRunning, same.State)
}

func testTerminate(t *testing.T, h *harness) {
	ctx := context.Background()
	vm := h.launch(t, h.spec(t, "term"))
	require.NoError(t, h.p.Terminate(ctx, vm.ID))

	got, err := h.p.Describe(ctx, vm.ID)
	if err != nil {
		require.ErrorIs(t, err, provider.ErrNotFound)
	} else {
		require.Equal(t, provider.StateTerminated, got.State)
	}
	if err := h.p.Terminate(ctx, vm.ID); err != nil {
		require.ErrorIs(t, err, provider.ErrNotFound, "terminating twice must succeed or say not found")
	}
	_, err = h.p.Start(ctx, vm.ID)
	require.Error(t, err, "a terminated VM cannot start")
	require.True(t, errors.Is(err, provider.ErrInvalid) || errors.Is(err, provider.ErrNotFound), "got %v", err)
	require.False(t, provider.IsHealthError(err))

	// The key stays spent: a late retry must get the same VM back or an error, never a new VM.
	retry, err := h.p.Launch(ctx, h.spec(t, "term"))
	if err == nil {
		h.track(retry.ID)
		require.Equal(t, vm.ID, retry.ID, "a retry after terminate made a second VM for one key")
	}
}

func testNotFound(t *testing.T, h *harness) {
	ctx := context.Background()
	const id = "no-such-vm"
	_, err := h.p.Describe(ctx, id)
	require.ErrorIs(t, err, provider.ErrNotFound)
	_, err = h.p.Start(ctx, id)
	require.ErrorIs(t, err, provider.ErrNotFound)
	_, err = h.p.Stop(ctx, id)
	require.ErrorIs(t, err, provider.ErrNotFound)
	require.ErrorIs(t, h.p.Terminate(ctx, id), provider.ErrNotFound)
	require.False(t, provider.IsHealthError(err))
}
