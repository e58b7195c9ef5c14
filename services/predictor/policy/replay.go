package policy

import (
	"context"
	"errors"

	"github.com/foresight-run/foresight/pkg/events"
)

// Replay is a finished workflow to be replayed under the actions it was not run with:
// counterfactual feedback for the policy (see Replayed). Bandit feedback teaches the
// policy one action per workflow, and with eighteen actions a family's few workflows
// cannot try them all; a replay on the runtimes the tasks were observed to take teaches
// every action from each workflow.
type Replay struct {
	// WorkflowID seeds the replay's random draws (launch latencies), so a redelivered
	// completion replays identically.
	WorkflowID string
	// Mode is the objective the workflow was planned for (fastest, balanced, cheapest).
	Mode string
	// Tasks are the workflow's tasks as submitted, each with its observed runtime in
	// ReplaySeconds.
	Tasks []events.Task
	// Predictions are the predictions the workflow was first planned with, by task.
	Predictions []events.TaskPrediction
	// Actions are replayed in order.
	Actions []Action
}

// Outcome is what a replay estimates one action would have achieved.
type Outcome struct {
	MakespanSeconds float64
	CostUSD         float64
}

// Replayer replays a workflow under each of its actions. The predictor is given one by
// the binary that wires it (the simulator the benchmark runs, package bench), so the
// policy's core depends on no simulator.
type Replayer func(ctx context.Context, r Replay) ([]Outcome, error)

// ErrNotReplayed is wrapped by a Replayer that declines a workflow (too large to replay,
// say): the policy then learns only the action played.
var ErrNotReplayed = errors.New("policy: workflow not replayed")
