package events

import "time"

// Type is a versioned event type string. It is also the first tokens of the event's subject.
type Type string

// Event types. The five core types are fixed by the design; a breaking change to any of
// them is a new constant (…v2) published beside the old one.
const (
	TypeWorkflowSubmitted Type = "foresight.workflow-submitted.v1"
	TypeWorkflowRejected  Type = "foresight.workflow-rejected.v1"
	TypeGraphBuilt        Type = "foresight.graph-built.v1"
	TypeDemandPredicted   Type = "foresight.demand-predicted.v1"
	TypePlanReady         Type = "foresight.plan-ready.v1"
	TypeVMProvisioned     Type = "foresight.vm-provisioned.v1"
	TypeVMReleased        Type = "foresight.vm-released.v1"
	TypeVMIdle            Type = "foresight.vm-idle.v1"
	TypePoolForecast      Type = "foresight.pool-forecast.v1"
	TypeVMStateChanged    Type = "foresight.vm-state-changed.v1"
	TypeVMUnneeded        Type = "foresight.vm-unneeded.v1"
	TypeTaskDispatched    Type = "foresight.task-dispatched.v1"
	TypeTaskObserved      Type = "foresight.task-observed.v1"
	TypePredictionDelta   Type = "foresight.prediction-delta.v1"
	TypeReplanRequested   Type = "foresight.replan-requested.v1"
	TypeWorkflowCompleted Type = "foresight.workflow-completed.v1"
)

// AllTypes lists every event type Foresight publishes, in causal order of a workflow's life.
var AllTypes = []Type{
	TypeWorkflowSubmitted, TypeWorkflowRejected, TypeGraphBuilt, TypeDemandPredicted,
	TypePlanReady, TypeVMProvisioned, TypeTaskDispatched, TypeTaskObserved,
	TypePredictionDelta, TypeReplanRequested, TypeVMIdle, TypeVMReleased, TypeWorkflowCompleted,
	TypePoolForecast, TypeVMStateChanged, TypeVMUnneeded,
}

// Payload is implemented by every event data type.
type Payload interface {
	EventType() Type
}

// Task is one task as users submit it and as every stage passes it on.
type Task struct {
	ID      string            `json:"id"`
	Command []string          `json:"command,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	// CPU is the number of cores the task needs; fractions are allowed.
	CPU         float64 `json:"cpu"`
	MemoryBytes int64   `json:"memory_bytes"`
	// EstimatedSeconds is the user's runtime estimate, 0 when none was given.
	EstimatedSeconds float64           `json:"estimated_seconds,omitempty"`
	Retries          int               `json:"retries,omitempty"`
	TimeoutSeconds   float64           `json:"timeout_seconds,omitempty"`
	DependsOn        []string          `json:"depends_on,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	// Category groups tasks of the same kind (WfFormat category, or the command's program).
	Category string `json:"category,omitempty"`
	// InputBytes is the total size of the task's input files, when known.
	InputBytes int64 `json:"input_bytes,omitempty"`
	// ReplaySeconds, when positive, makes the task a built-in sleep of that length instead
	// of running Command: how recorded traces are replayed.
	ReplaySeconds float64 `json:"replay_seconds,omitempty"`
}

// Objective is how the allocator weighs money against makespan.
type Objective struct {
	// Mode is fastest, cheapest or balanced; explicit fields below override it.
	Mode string `json:"mode,omitempty"`
	// Lambda is USD per second of makespan.
	Lambda          *float64 `json:"lambda,omitempty"`
	DeadlineSeconds *float64 `json:"deadline_seconds,omitempty"`
	BudgetUSD       *float64 `json:"budget_usd,omitempty"`
}

// WorkflowSubmitted is published by the gateway once a submission is stored.
type WorkflowSubmitted struct {
	WorkflowID string    `json:"workflow_id"`
	Name       string    `json:"name"`
	Tenant     string    `json:"tenant,omitempty"`
	Objective  Objective `json:"objective"`
	Tasks      []Task    `json:"tasks"`
	// Family names the workflow family for history lookups (defaults to Name).
	Family      string    `json:"family,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Problem is one thing wrong with a submission.
type Problem struct {
	// Task is the offending task id, empty for workflow-level problems.
	Task   string `json:"task,omitempty"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// WorkflowRejected is published when a stored submission fails graph validation.
type WorkflowRejected struct {
	WorkflowID string    `json:"workflow_id"`
	Problems   []Problem `json:"problems"`
}

// GraphTask is a task annotated by the graph builder.
type GraphTask struct {
	Task
	Signature      string  `json:"signature"`
	Level          int     `json:"level"`
	UpwardRank     float64 `json:"upward_rank"`
	SlackSeconds   float64 `json:"slack_seconds"`
	OnCriticalPath bool    `json:"on_critical_path"`
	// EstimateSeconds is the runtime the analysis used and EstimateSource where it came from
	// (history, user, family-prior, global-prior, trace).
	EstimateSeconds float64 `json:"estimate_seconds"`
	EstimateSource  string  `json:"estimate_source"`
}

// GraphBuilt is the validated, analysed task graph.
type GraphBuilt struct {
	WorkflowID string      `json:"workflow_id"`
	Name       string      `json:"name"`
	Family     string      `json:"family"`
	Objective  Objective   `json:"objective"`
	Tasks      []GraphTask `json:"tasks"` // in topological order
	Edges      int         `json:"edges"`
	Levels     int         `json:"levels"`
	PeakWidth  int         `json:"peak_width"`
	// CriticalPath lists task ids from a source to a sink.
	CriticalPath         []string `json:"critical_path"`
	CriticalPathSeconds  float64  `json:"critical_path_seconds"`
	TotalWorkCoreSeconds float64  `json:"total_work_core_seconds"`
	PeakCores            float64  `json:"peak_cores"`
	PeakMemoryBytes      int64    `json:"peak_memory_bytes"`
}

// TaskPrediction is the predictor's forecast for one task.
type TaskPrediction struct {
	TaskID      string  `json:"task_id"`
	P50Seconds  float64 `json:"p50_seconds"`
	P90Seconds  float64 `json:"p90_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
	MemoryBytes int64   `json:"memory_bytes"`
	CPU         float64 `json:"cpu"`
	// Source says what the prediction came from: history, siblings, run-prior, user,
	// family-prior, global-prior.
	Source  string `json:"source"`
	Samples int    `json:"samples"`
}

// IsPrior reports whether a prediction source rests on no evidence about the task itself:
// the global or family prior, or the run's tasks of other kinds (run-prior). Such a
// prediction's misses are not drift, and it is planned cautiously.
func IsPrior(source string) bool {
	switch source {
	case "global-prior", "family-prior", "run-prior":
		return true
	}
	return false
}

// DemandPoint is the workflow's predicted demand from OffsetSeconds after it starts.
type DemandPoint struct {
	OffsetSeconds  float64 `json:"offset_seconds"`
	Cores          float64 `json:"cores"`
	CoresP90       float64 `json:"cores_p90"`
	MemoryBytes    int64   `json:"memory_bytes"`
	MemoryBytesP90 int64   `json:"memory_bytes_p90"`
}

// Window is a span of the workflow's life, in seconds after it starts.
type Window struct {
	StartSeconds float64 `json:"start_seconds"`
	EndSeconds   float64 `json:"end_seconds"`
	// Cores is the demand and CapacityCores what the pool can offer during the window.
	Cores         float64 `json:"cores,omitempty"`
	CapacityCores float64 `json:"capacity_cores,omitempty"`
	Reason        string  `json:"reason,omitempty"`
}

// PolicyAction is the planning knob setting the RL policy chose for a workflow.
type PolicyAction struct {
	Name string `json:"name"`
	// RuntimeQuantile is the quantile of predicted runtime the planner plans for (0.5–0.99).
	RuntimeQuantile  float64 `json:"runtime_quantile"`
	MemoryHeadroom   float64 `json:"memory_headroom"`
	WarmAheadSeconds float64 `json:"warm_ahead_seconds"`
	// Reason explains the choice (exploit, explore, safe default while learning).
	Reason string `json:"reason"`
}

// DemandPredicted carries per-task predictions and the workflow's demand curve.
type DemandPredicted struct {
	WorkflowID  string           `json:"workflow_id"`
	Graph       GraphBuilt       `json:"graph"`
	Predictions []TaskPrediction `json:"predictions"`
	Demand      []DemandPoint    `json:"demand"`
	Contention  []Window         `json:"contention,omitempty"`
	// PredictedMakespanSeconds is the makespan of an ASAP schedule on P50 runtimes.
	PredictedMakespanSeconds float64      `json:"predicted_makespan_seconds"`
	Action                   PolicyAction `json:"action"`
	// Revision is 0 for the forecast made at submission; each later revision carries
	// predictions sharpened by the workflow's finished tasks.
	Revision int `json:"revision,omitempty"`
}

// Tiers of the VM pool.
const (
	TierHot  = "hot"
	TierWarm = "warm"
	TierCold = "cold"
)

// VMRequest asks the pool manager for one VM.
type VMRequest struct {
	// Key is the idempotency key of the launch: derived from workflow, request and plan
	// version, reused verbatim on every retry.
	Key          string  `json:"key"`
	InstanceType string  `json:"instance_type"`
	Tier         string  `json:"tier"`
	Cores        float64 `json:"cores"`
	MemoryBytes  int64   `json:"memory_bytes"`
	// RequestAtSeconds is when (after the workflow's start) the VM should be requested and
	// ReadyBySeconds when it must be ready.
	RequestAtSeconds float64 `json:"request_at_seconds"`
	ReadyBySeconds   float64 `json:"ready_by_seconds"`
	Reason           string  `json:"reason"`
	// PoolVMID, when set, claims that VM from the standing pool (tier hot or warm) instead
	// of launching a new one.
	PoolVMID string `json:"pool_vm_id,omitempty"`
}

// Placement puts one task on a planned VM.
type Placement struct {
	TaskID        string  `json:"task_id"`
	VMKey         string  `json:"vm_key"`
	StartSeconds  float64 `json:"start_seconds"`
	FinishSeconds float64 `json:"finish_seconds"`
}

// PlanReady is a versioned scheduling plan for a workflow.
type PlanReady struct {
	WorkflowID               string      `json:"workflow_id"`
	Version                  int         `json:"version"`
	VMRequests               []VMRequest `json:"vm_requests"`
	Placements               []Placement `json:"placements"`
	PredictedMakespanSeconds float64     `json:"predicted_makespan_seconds"`
	PredictedCostUSD         float64     `json:"predicted_cost_usd"`
	Contention               []Window    `json:"contention,omitempty"`
	Reason                   string      `json:"reason,omitempty"`
	// PlannedAt is the instant the plan's seconds count from (when the workflow's first
	// plan was made): a VM request is due at PlannedAt + RequestAtSeconds.
	PlannedAt time.Time `json:"planned_at,omitzero"`
}

// VMProvisioned says a VM is ready to run tasks.
type VMProvisioned struct {
	VMID         string    `json:"vm_id"`
	WorkflowID   string    `json:"workflow_id"`
	Key          string    `json:"key"`
	Provider     string    `json:"provider"`
	InstanceType string    `json:"instance_type"`
	Tier         string    `json:"tier"`
	Cores        float64   `json:"cores"`
	MemoryBytes  int64     `json:"memory_bytes"`
	ReadyAt      time.Time `json:"ready_at"`
	// LaunchSeconds is how long the provider took from request to ready.
	LaunchSeconds float64 `json:"launch_seconds"`
	// Fallback, when set, says the VM is not what the plan asked for and why (a circuit
	// breaker was open for the planned type or tier).
	Fallback string `json:"fallback,omitempty"`
}

// VMReleased says a VM left the workflow (stopped to warm, terminated or failed).
type VMReleased struct {
	VMID       string `json:"vm_id"`
	WorkflowID string `json:"workflow_id"`
	State      string `json:"state"`
	Reason     string `json:"reason"`
}

// VMIdle says a workflow's VM has no task running, and when the plan next needs it, so
// the pool manager can keep it hot, stop it to warm standby or terminate it.
type VMIdle struct {
	VMID       string `json:"vm_id"`
	WorkflowID string `json:"workflow_id"`
	Key        string `json:"key"`
	// NextNeedSeconds is how long from now until the plan next runs a task on it; absent
	// when the plan has no more work for it.
	NextNeedSeconds *float64 `json:"next_need_seconds,omitempty"`
}

// TaskDispatched hands a task to the agent of a VM.
type TaskDispatched struct {
	WorkflowID  string `json:"workflow_id"`
	TaskID      string `json:"task_id"`
	Attempt     int    `json:"attempt"`
	VMID        string `json:"vm_id"`
	PlanVersion int    `json:"plan_version"`
	Task        Task   `json:"task"`
}

// Task outcomes.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusTimedOut  = "timed_out"
	StatusOOMKilled = "oom_killed"
)

// TaskObserved is what an agent measured while running a task.
type TaskObserved struct {
	WorkflowID     string    `json:"workflow_id"`
	TaskID         string    `json:"task_id"`
	Attempt        int       `json:"attempt"`
	VMID           string    `json:"vm_id"`
	Status         string    `json:"status"`
	ExitCode       int       `json:"exit_code"`
	StartedAt      time.Time `json:"started_at"`
	FinishedAt     time.Time `json:"finished_at"`
	RuntimeSeconds float64   `json:"runtime_seconds"`
	// CPUSeconds is user plus system CPU time.
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	Error        string  `json:"error,omitempty"`
}

// PredictionDelta is the monitor's actual-versus-predicted record for one finished task,
// which the predictor learns from.
type PredictionDelta struct {
	WorkflowID       string  `json:"workflow_id"`
	TaskID           string  `json:"task_id"`
	Signature        string  `json:"signature"`
	Family           string  `json:"family"`
	Category         string  `json:"category"`
	InputBytes       int64   `json:"input_bytes,omitempty"`
	PredictedSeconds float64 `json:"predicted_seconds"`
	ActualSeconds    float64 `json:"actual_seconds"`
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	Status           string  `json:"status"`
}

// ReplanRequested asks the allocator to re-plan the unfinished part of a workflow.
type ReplanRequested struct {
	WorkflowID string `json:"workflow_id"`
	Reason     string `json:"reason"`
	TaskID     string `json:"task_id,omitempty"`
}

// VMUnneeded says a VM the plan requested has no work left: its tasks all ran elsewhere.
// The pool manager cancels the request, or terminates the VM if it is already booting.
type VMUnneeded struct {
	WorkflowID string `json:"workflow_id"`
	// Key is the plan's key for the VM request.
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// VMStateChanged records one transition of a VM's lifecycle (requested → provisioning →
// hot_idle → busy → idle → warm → terminated, or failed), as the pool manager persisted it.
type VMStateChanged struct {
	VMID string `json:"vm_id,omitempty"`
	Key  string `json:"key"`
	// WorkflowID is empty for a VM of the standing pool.
	WorkflowID string    `json:"workflow_id,omitempty"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Event      string    `json:"event"`
	At         time.Time `json:"at"`
	// Seq numbers the VM's transitions from 1.
	Seq int `json:"seq"`
}

// PoolForecast is the predictor's forecast of the pool's background demand: busy cores
// across all workflows, from now on, which sets the standing hot and warm pool targets.
type PoolForecast struct {
	GeneratedAt time.Time `json:"generated_at"`
	StepSeconds float64   `json:"step_seconds"`
	// Points hold from OffsetSeconds (after GeneratedAt) until the next point; Cores is the
	// forecast mean and CoresP90 its upper band.
	Points []DemandPoint `json:"points"`
	// Model names the time-series model the backtest chose, and BacktestMAE its error in
	// cores; HistoryPoints is how many steps of history it was fitted on.
	Model         string  `json:"model"`
	BacktestMAE   float64 `json:"backtest_mae"`
	HistoryPoints int     `json:"history_points"`
}

// Workflow outcomes.
const (
	WorkflowSucceeded = "succeeded"
	WorkflowFailed    = "failed"
)

// WorkflowCompleted closes a workflow, with the facts the policy's reward is made of.
type WorkflowCompleted struct {
	WorkflowID      string    `json:"workflow_id"`
	Status          string    `json:"status"`
	Tasks           int       `json:"tasks"`
	FailedTasks     int       `json:"failed_tasks"`
	MakespanSeconds float64   `json:"makespan_seconds"`
	CompletedAt     time.Time `json:"completed_at"`
	// OOMKills counts attempts killed for memory; DeadlineMissed says the workflow finished
	// after the deadline its objective set. Both weigh on the policy's reward.
	OOMKills       int  `json:"oom_kills,omitempty"`
	DeadlineMissed bool `json:"deadline_missed,omitempty"`
}

// EventType implementations bind each payload to its type string.
func (WorkflowSubmitted) EventType() Type { return TypeWorkflowSubmitted }

// EventType implements Payload.
func (WorkflowRejected) EventType() Type { return TypeWorkflowRejected }

// EventType implements Payload.
func (GraphBuilt) EventType() Type { return TypeGraphBuilt }

// EventType implements Payload.
func (DemandPredicted) EventType() Type { return TypeDemandPredicted }

// EventType implements Payload.
func (PlanReady) EventType() Type { return TypePlanReady }

// EventType implements Payload.
func (VMProvisioned) EventType() Type { return TypeVMProvisioned }

// EventType implements Payload.
func (VMReleased) EventType() Type { return TypeVMReleased }

// EventType implements Payload.
func (TaskDispatched) EventType() Type { return TypeTaskDispatched }

// EventType implements Payload.
func (VMIdle) EventType() Type { return TypeVMIdle }

// EventType implements Payload.
func (PoolForecast) EventType() Type { return TypePoolForecast }

// EventType implements Payload.
func (VMStateChanged) EventType() Type { return TypeVMStateChanged }

// EventType implements Payload.
func (VMUnneeded) EventType() Type { return TypeVMUnneeded }

// EventType implements Payload.
func (TaskObserved) EventType() Type { return TypeTaskObserved }

// EventType implements Payload.
func (PredictionDelta) EventType() Type { return TypePredictionDelta }

// EventType implements Payload.
func (ReplanRequested) EventType() Type { return TypeReplanRequested }

// EventType implements Payload.
func (WorkflowCompleted) EventType() Type { return TypeWorkflowCompleted }
