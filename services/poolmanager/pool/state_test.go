package pool

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// legal is the lifecycle written out independently of the implementation's table.
var legal = []struct {
	from State
	ev   Event
	to   State
}{
	{StateRequested, EventProvision, StateProvisioning},
	{StateRequested, EventTerminate, StateTerminated},
	{StateRequested, EventFail, StateFailed},
	{StateProvisioning, EventReady, StateHotIdle},
	{StateProvisioning, EventTerminate, StateTerminated},
	{StateProvisioning, EventFail, StateFailed},
	{StateHotIdle, EventAssign, StateBusy},
	{StateHotIdle, EventStop, StateWarm},
	{StateHotIdle, EventTerminate, StateTerminated},
	{StateHotIdle, EventFail, StateFailed},
	{StateBusy, EventAssign, StateBusy},
	{StateBusy, EventDrain, StateIdle},
	{StateBusy, EventFail, StateFailed},
	{StateIdle, EventAssign, StateBusy},
	{StateIdle, EventStop, StateWarm},
	{StateIdle, EventTerminate, StateTerminated},
	{StateIdle, EventFail, StateFailed},
	{StateWarm, EventStart, StateProvisioning},
	{StateWarm, EventTerminate, StateTerminated},
	{StateWarm, EventFail, StateFailed},
	{StateFailed, EventTerminate, StateTerminated},
}

func TestTransitionExhaustive(t *testing.T) {
	t.Parallel()
	want := map[State]map[Event]State{}
	for _, l := range legal {
		if want[l.from] == nil {
			want[l.from] = map[Event]State{}
		}
		want[l.from][l.ev] = l.to
	}
	for _, from := range append(States, "bogus") {
		for _, ev := range append(Events, "bogus") {
			t.Run(string(from)+"/"+string(ev), func(t *testing.T) {
				t.Parallel()
				got, err := Transition(from, ev)
				if to, ok := want[from][ev]; ok {
					require.NoError(t, err)
					require.Equal(t, to, got)
					return
				}
				require.ErrorIs(t, err, ErrIllegalTransition)
				var te *TransitionError
				require.True(t, errors.As(err, &te))
				require.Equal(t, from, te.From)
				require.Equal(t, ev, te.Event)
				require.Equal(t, from, got, "an illegal move leaves the state unchanged")
			})
		}
	}
}

func TestLifecycleShape(t *testing.T) {
	t.Parallel()
	// Every state is reachable from requested, and every live state can reach terminated.
	reach := func(from State) map[State]bool {
		seen := map[State]bool{from: true}
		queue := []State{from}
		for len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			for _, ev := range Events {
				if to, err := Transition(s, ev); err == nil && !seen[to] {
					seen[to] = true
					queue = append(queue, to)
				}
			}
		}
		return seen
	}
	fromRequested := reach(StateRequested)
	for _, s := range States {
		require.True(t, fromRequested[s], "%s unreachable", s)
		require.True(t, reach(s)[StateTerminated], "%s cannot terminate", s)
	}
	require.Len(t, reach(StateTerminated), 1, "terminated is absorbing")
	require.True(t, StateTerminated.Terminal())
	require.False(t, StateWarm.Terminal())

	tests := []struct {
		name  string
		state State
		tier  string
	}{
		{"hot idle", StateHotIdle, TierHot},
		{"busy", StateBusy, TierHot},
		{"idle", StateIdle, TierHot},
		{"warm", StateWarm, TierWarm},
		{"provisioning", StateProvisioning, ""},
		{"failed", StateFailed, ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.tier, tt.state.Tier(), tt.name)
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Transition(StateBusy, EventStop)
	require.EqualError(t, err, "illegal vm transition: stop on a busy vm")
}
