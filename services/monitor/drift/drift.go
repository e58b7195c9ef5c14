package drift

import (
	"fmt"

	"github.com/foresight-run/foresight/pkg/events"
)

// MinSeconds is the smallest absolute difference from the prediction that counts.
const MinSeconds = 1.0

// Check returns a reason when the observation drifted from its prediction, "" otherwise.
func Check(o events.TaskObserved, p events.TaskPrediction) string {
	switch {
	case o.Status == events.StatusOOMKilled:
		return fmt.Sprintf("task %s was OOM-killed", o.TaskID)
	case o.Status != events.StatusSucceeded || p.P50Seconds <= 0 || events.IsPrior(p.Source):
		return ""
	case o.RuntimeSeconds > p.P90Seconds && o.RuntimeSeconds-p.P90Seconds >= MinSeconds:
		return fmt.Sprintf("task %s ran %.1fs, past its P90 of %.1fs", o.TaskID, o.RuntimeSeconds, p.P90Seconds)
	case o.RuntimeSeconds < p.P50Seconds/2 && p.P50Seconds-o.RuntimeSeconds >= MinSeconds:
		return fmt.Sprintf("task %s ran %.1fs, under half its P50 of %.1fs", o.TaskID, o.RuntimeSeconds, p.P50Seconds)
	}
	return ""
}
