package pool

import (
	"errors"
	"fmt"

	"github.com/foresight-run/foresight/pkg/events"
)

// State is a VM's lifecycle state in the pool.
type State string

// VM lifecycle states.
const (
	// StateRequested: the pool decided to have the VM and stored its idempotency key; no
	// provider call has succeeded yet.
	StateRequested State = "requested"
	// StateProvisioning: the provider is launching or starting it.
	StateProvisioning State = "provisioning"
	// StateHotIdle: running and ready, no task yet since it became ready.
	StateHotIdle State = "hot_idle"
	// StateBusy: running at least one task.
	StateBusy State = "busy"
	// StateIdle: running, its tasks finished; a scale-in candidate.
	StateIdle State = "idle"
	// StateWarm: stopped standby, storage cost only.
	StateWarm State = "warm"
	// StateTerminated: gone. Absorbing.
	StateTerminated State = "terminated"
	// StateFailed: the provider or the VM failed; only termination follows.
	StateFailed State = "failed"
)

// States lists every state, in lifecycle order.
var States = []State{StateRequested, StateProvisioning, StateHotIdle, StateBusy, StateIdle, StateWarm, StateTerminated, StateFailed}

// Event is what happens to a VM.
type Event string

// Lifecycle events.
const (
	// EventProvision: the launch (or start) call went to the provider.
	EventProvision Event = "provision"
	// EventReady: the provider reports it running.
	EventReady Event = "ready"
	// EventAssign: a task was placed on it (several tasks may share a VM).
	EventAssign Event = "assign"
	// EventDrain: its last task finished.
	EventDrain Event = "drain"
	// EventStop: it was stopped to warm standby.
	EventStop Event = "stop"
	// EventStart: a warm VM is being started.
	EventStart Event = "start"
	// EventTerminate: it was terminated (or its request cancelled).
	EventTerminate Event = "terminate"
	// EventFail: the provider refused it or it died.
	EventFail Event = "fail"
)

// Events lists every event.
var Events = []Event{EventProvision, EventReady, EventAssign, EventDrain, EventStop, EventStart, EventTerminate, EventFail}

// ErrIllegalTransition is what every *TransitionError matches with errors.Is.
var ErrIllegalTransition = errors.New("illegal vm transition")

// TransitionError says event Event cannot happen to a VM in state From.
type TransitionError struct {
	From  State
	Event Event
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("illegal vm transition: %s on a %s vm", e.Event, e.From)
}

// Is makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// transitions is the whole machine. A busy VM cannot be stopped or terminated: drain it
// first, or report it failed. A provisioning VM can be terminated (its launch is no longer
// wanted) but not stopped, as EC2 does not stop a pending instance.
var transitions = map[State]map[Event]State{
	StateRequested: {
		EventProvision: StateProvisioning,
		EventTerminate: StateTerminated,
		EventFail:      StateFailed,
	},
	StateProvisioning: {
		EventReady:     StateHotIdle,
		EventTerminate: StateTerminated,
		EventFail:      StateFailed,
	},
	StateHotIdle: {
		EventAssign:    StateBusy,
		EventStop:      StateWarm,
		EventTerminate: StateTerminated,
		EventFail:      StateFailed,
	},
	StateBusy: {
		EventAssign: StateBusy,
		EventDrain:  StateIdle,
		EventFail:   StateFailed,
	},
	StateIdle: {
		EventAssign:    StateBusy,
		EventStop:      StateWarm,
		EventTerminate: StateTerminated,
		EventFail:      StateFailed,
	},
	StateWarm: {
		EventStart:     StateProvisioning,
		EventTerminate: StateTerminated,
		EventFail:      StateFailed,
	},
	StateFailed: {
		EventTerminate: StateTerminated,
	},
	StateTerminated: {},
}

// Transition returns the state a VM in from reaches on ev, or a *TransitionError.
func Transition(from State, ev Event) (State, error) {
	if to, ok := transitions[from][ev]; ok {
		return to, nil
	}
	return from, &TransitionError{From: from, Event: ev}
}

// Tier returns the pool tier of a state: "hot" for running VMs, "warm" for stopped ones,
// "" otherwise.
func (s State) Tier() string {
	switch s {
	case StateHotIdle, StateBusy, StateIdle:
		return TierHot
	case StateWarm:
		return TierWarm
	}
	return ""
}

// Terminal reports whether no event can leave the state.
func (s State) Terminal() bool { return s == StateTerminated }

// Tiers, equal to events.TierHot, events.TierWarm and events.TierCold.
const (
	TierHot  = events.TierHot
	TierWarm = events.TierWarm
	TierCold = events.TierCold
)
