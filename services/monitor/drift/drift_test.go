package drift

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	p := events.TaskPrediction{TaskID: "t", P50Seconds: 10, P90Seconds: 14, Source: "history"}
	tests := []struct {
		name    string
		status  string
		runtime float64
		source  string
		drift   bool
	}{
		{name: "within band", status: events.StatusSucceeded, runtime: 12},
		{name: "past P90", status: events.StatusSucceeded, runtime: 20, drift: true},
		{name: "just past P90 is noise", status: events.StatusSucceeded, runtime: 14.5},
		{name: "far earlier than P50", status: events.StatusSucceeded, runtime: 3, drift: true},
		{name: "failure is not drift", status: events.StatusFailed, runtime: 50},
		{name: "OOM kill is drift", status: events.StatusOOMKilled, runtime: 1, drift: true},
		{name: "a prior cannot drift", status: events.StatusSucceeded, runtime: 50, source: "global-prior"},
		{name: "nor can a prior from the run's other kinds of task", status: events.StatusSucceeded, runtime: 50, source: "run-prior"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pred := p
			if tc.source != "" {
				pred.Source = tc.source
			}
			got := Check(events.TaskObserved{TaskID: "t", Status: tc.status, RuntimeSeconds: tc.runtime}, pred)
			require.Equal(t, tc.drift, got != "", got)
		})
	}
}
