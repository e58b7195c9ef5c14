package planner

import (
	"errors"
	"math"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// Errors callers act on.
var (
	// ErrInvalidInput marks an input the planner cannot plan: a parent index out of range, a
	// cycle, a negative duration, an unknown instance type. The wrapped message names it.
	ErrInvalidInput = errors.New("invalid planner input")
	// ErrUnschedulable marks a task no instance type (or the quota) can ever hold.
	ErrUnschedulable = errors.New("task fits no instance type")
)

// Task is one task as the planner sees it: its resources and its predicted runtime.
type Task struct {
	ID string
	// Parents are indices into Input.Tasks of the tasks that must finish first.
	Parents     []int32
	CPU         float64
	MemoryBytes int64
	// Duration is the predicted runtime in seconds at the quantile the policy chose.
	Duration float64
}

// Objective is what the plan minimises: money as billed + Lambda·makespan, plus penalties
// for finishing after the deadline or spending past the budget. ObjectiveFor fills it from
// a user's mode.
type Objective struct {
	// Mode is the user's mode (fastest, cheapest, balanced) for reporting; the numbers
	// below are what the planner uses.
	Mode string
	// Lambda is USD per second of makespan.
	Lambda float64
	// LambdaPerParallelCore adds LambdaPerParallelCore × (the DAG's average parallelism) to
	// Lambda; Make measures the parallelism (work / critical path) on the predicted
	// durations. balanced uses it so that a second of makespan is worth what the cores
	// that run the workflow at its average parallelism cost for a second.
	LambdaPerParallelCore float64
	// DeadlineSeconds and BudgetUSD are 0 when there is none.
	DeadlineSeconds, BudgetUSD float64
	// DeadlinePenalty is USD per second past the deadline; BudgetPenalty USD per USD over
	// the budget.
	DeadlinePenalty, BudgetPenalty float64
	// SlackReserve is the fraction of each task's remaining path (its upward rank) the plan
	// keeps in reserve: a task only waits for a shared VM while its slack exceeds
	// SlackReserve × rank, so a prediction that runs long does not at once delay the
	// workflow. 0 lets tasks spend all their slack (cheapest); a huge value never makes a
	// task wait (fastest).
	SlackReserve float64
}

// PoolVM is a VM the pool already holds that this plan may claim.
type PoolVM struct {
	ID           string
	InstanceType string
	// Tier is events.TierHot (running, idle) or events.TierWarm (stopped standby).
	Tier string
	// FreeAt is when the VM can be claimed, in seconds since the workflow started.
	FreeAt float64
}

// Knobs are the planning settings the learned policy turns.
type Knobs struct {
	// WarmAheadSeconds requests VMs that much earlier than their mean tier latency, so a slow
	// start still beats the task; the VM idles (billed) if it comes up on time.
	WarmAheadSeconds float64
	// MemoryHeadroom multiplies each task's memory when packing, as the policy's action
	// states it (1.3 = 30% headroom). A value in (0,1) is read as the headroom fraction
	// itself (0.3 = 1.3×); 0 means none.
	MemoryHeadroom float64
	// DriftLead requests each VM earlier by this fraction of the time until it is needed,
	// because the predicted start of a task far into the workflow drifts with every
	// prediction error on the way to it; a VM that arrives early idles (billed), one that
	// arrives late delays its tasks. 0 means DefaultDriftLead, a negative value none.
	DriftLead float64
}

// PriorQuantile is the least runtime quantile a task is planned at when its prediction is
// a prior (no evidence about the task itself), whatever quantile the policy chose: the
// policy's safe default. A prior's median is a guess, and planning at it stacks unknown
// tasks on one VM behind one another; when they turn out long (srasearch's 10-minute
// downloads predicted at 10 s) re-plans can only add VMs a cold start later. On the
// development traces (foresight bench, seeds 1-3) this cut makespan against the
// warm-pool autoscaler from 1.059/1.047/1.031× to 1.026/1.002/1.023× while cost moved
// 0.537/0.490/0.518× -> 0.497/0.506/0.512×; the traces whose families had history are
// unaffected.
const PriorQuantile = 0.9

// PlanningQuantile is the runtime quantile to plan a task at: the policy's q, raised to
// PriorQuantile when the task's prediction is a prior.
func PlanningQuantile(q float64, prior bool) float64 {
	if prior {
		return max(q, PriorQuantile)
	}
	return q
}

// PlannedDuration is the duration a task is planned at when the policy's runtime quantile
// is q: its prediction at PlanningQuantile, interpolated in log space between the reported
// P50, P90 and P99 (a quantile at or below 0.5 gives P50; at or above 0.99, P99). The
// allocator, its re-plans and the benchmark all plan through it.
func PlannedDuration(p events.TaskPrediction, q float64) float64 {
	q = PlanningQuantile(q, events.IsPrior(p.Source))
	lerp := func(a, b, f float64) float64 {
		if a <= 0 || b <= 0 {
			return a + (b-a)*f
		}
		return math.Exp(math.Log(a) + (math.Log(b)-math.Log(a))*f)
	}
	switch {
	case q <= 0.5:
		return p.P50Seconds
	case q <= 0.9:
		return lerp(p.P50Seconds, p.P90Seconds, (q-0.5)/0.4)
	case q < 0.99:
		return lerp(p.P90Seconds, p.P99Seconds, (q-0.9)/0.09)
	default:
		return p.P99Seconds
	}
}

// DefaultDriftLead is Knobs.DriftLead when unset. On the development traces, replayed
// with 25% lognormal runtime errors, 0.2 recovered a third of the makespan the errors
// cost for about 2% more money; 0.5 bought little more.
const DefaultDriftLead = 0.2

// FixedTask is a task a re-plan must keep: already finished (Finish ≤ Input.Now) or
// running (Finish > Now is its predicted end) on the VM VMKey.
type FixedTask struct {
	Task         int32
	VMKey        string
	InstanceType string
	Start        float64
	Finish       float64
}

// Avoid excludes an instance type in a tier (or every tier, Tier == "") from the plan —
// how the shell tells the planner a provider's circuit breaker is open.
type Avoid struct {
	InstanceType string
	Tier         string
}

// Input is everything one planning run needs. Times are seconds since the workflow started.
type Input struct {
	Tasks     []Task
	Catalog   catalog.Catalog
	Objective Objective
	Pool      []PoolVM
	Knobs     Knobs
	Now       float64
	Fixed     []FixedTask
	Avoid     []Avoid
	// Pipeline is the allocation pipeline; nil means DefaultPipeline().
	Pipeline *Pipeline
}

// VM is one run of a machine in the plan: from its request to its release. A machine the
// plan stops between two waves and starts again appears as two VMs, the second with Tier
// warm and Resumes pointing at the first.
type VM struct {
	// Key is stable for a given input: the shell derives the launch idempotency key from it.
	Key          string
	InstanceType string
	// Tier is where the VM comes from: hot (a running pool VM or one the workflow already
	// holds), warm (a stopped VM started), cold (a new launch).
	Tier        string
	Cores       float64
	MemoryBytes int64
	// RequestAt is when to ask for it, ReadyAt when it should be running (RequestAt plus the
	// tier's mean latency), ReleaseAt when the plan has no more work for it.
	RequestAt, ReadyAt, ReleaseAt float64
	// PoolVMID is the pool VM claimed (hot or warm tier), empty for a new launch.
	PoolVMID string
	// Resumes is the index in Plan.VMs of the earlier run of this machine that this run
	// restarts after a stop, or -1.
	Resumes int
	// Release is what to do at ReleaseAt: "stop" when a later run resumes it, else
	// "terminate" (the pool manager may keep it warm for others instead).
	Release string
	Reason  string
}

// Placement puts one task on a VM of the plan.
type Placement struct {
	Task int32
	// VM indexes Plan.VMs.
	VM            int
	Start, Finish float64
}

// Plan is a complete schedule: which VMs to request when, and where and when each task runs.
type Plan struct {
	VMs        []VM
	Placements []Placement // indexed like Input.Tasks
	// Makespan is the predicted finish of the last task, seconds since the workflow start.
	Makespan float64
	// Cost is Cost(plan) in USD.
	Cost float64
	// Lambda is the USD per second of makespan the plan used.
	Lambda float64
	// Contention lists spans where tasks waited because the quota left no room.
	Contention []events.Window
	Reason     string
}

// Release actions.
const (
	ReleaseStop      = "stop"
	ReleaseTerminate = "terminate"
)
