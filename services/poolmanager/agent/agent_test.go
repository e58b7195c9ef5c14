package agent

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

func TestRunMeasuresRealProcesses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		task       events.Task
		wantStatus string
		wantExit   int
		check      func(t *testing.T, r Result)
	}{
		{
			name:       "cpu work is measured from rusage",
			task:       events.Task{ID: "burn", Command: []string{"sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"}},
			wantStatus: events.StatusSucceeded,
			check: func(t *testing.T, r Result) {
				require.Greater(t, r.CPUSeconds, 0.0)
				require.Greater(t, r.PeakRSSBytes, int64(0))
				require.Greater(t, r.RuntimeSeconds, 0.0)
			},
		},
		{
			name:       "exit code is reported",
			task:       events.Task{ID: "fail", Command: []string{"sh", "-c", "exit 3"}},
			wantStatus: events.StatusFailed,
			wantExit:   3,
		},
		{
			name:       "timeout kills the process tree",
			task:       events.Task{ID: "slow", Command: []string{"sh", "-c", "sleep 30"}, TimeoutSeconds: 0.2},
			wantStatus: events.StatusTimedOut,
			wantExit:   -1,
		},
		{
			name:       "missing program fails cleanly",
			task:       events.Task{ID: "nope", Command: []string{"/definitely/not/here"}},
			wantStatus: events.StatusFailed,
			wantExit:   127,
		},
		{
			name:       "replay sleeps for the scaled recorded runtime",
			task:       events.Task{ID: "replay", ReplaySeconds: 10},
			wantStatus: events.StatusSucceeded,
			check: func(t *testing.T, r Result) {
				require.InDelta(t, 0.01, r.RuntimeSeconds, 0.5)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := Run(context.Background(), tc.task, Options{WorkDir: t.TempDir(), ReplayScale: 0.001})
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, r.Status, r.Error)
			require.Equal(t, tc.wantExit, r.ExitCode)
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestRunCancelledHandsBack(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, events.Task{ID: "x", Command: []string{"sleep", "5"}}, Options{WorkDir: t.TempDir()})
	require.ErrorIs(t, err, ErrCancelled)
}
