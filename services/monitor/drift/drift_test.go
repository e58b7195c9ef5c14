package drift

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	p := events.TaskPrediction{TaskID: "t", P50Seconds: 10, P90Seconds: 14}
	tests := []struct {
		name    string
		status  string
		runtime float64
		drift   bool
	}{
		{name: "within band", status: events.StatusSucceeded, runtime: 12},
		{name: "past P90", status: events.StatusSucceeded, runtime: 20, drift: true},
		{name: "just past P90 is noise", status: events.StatusSucceeded, runtime: 14.5},
		{name: "far earlier than P50", status: events.StatusSucceeded, runtime: 3, drift: true},
		{name: "failure is not drift", status: events.StatusFailed, runtime: 50},
		{name: "OOM kill is drift", status: events.StatusOOMKilled, runtime: 1, drift: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Check(events.TaskObserved{TaskID: "t", Status: tc.status, RuntimeSeconds: tc.runtime}, p)
			require.Equal(t, tc.drift, got != "", got)
		})
	}
}
