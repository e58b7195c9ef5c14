package planner

import (
	"math"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// Source is where a candidate gets the machine for a task.
type Source uint8

// Sources, in the order ties are broken (earlier wins).
const (
	// SourceOpen shares a busy VM of the plan that has room but would otherwise stop
	// before the task ends.
	SourceOpen Source = iota
	// SourceIdle reuses a VM of this plan that has gone idle: kept running across the gap,
	// or stopped and started again in time.
	SourceIdle
	// SourcePoolHot claims a running idle VM from the pool.
	SourcePoolHot
	// SourcePoolWarm starts a stopped VM from the pool, early enough to be ready.
	SourcePoolWarm
	// SourceCold launches a new VM, early enough to be ready.
	SourceCold
	// SourceWait leaves the task queued for capacity the plan already has.
	SourceWait
)

// String names the source for reasons and logs.
func (s Source) String() string {
	switch s {
	case SourceOpen:
		return "open"
	case SourceIdle:
		return "idle"
	case SourcePoolHot:
		return "pool-hot"
	case SourcePoolWarm:
		return "pool-warm"
	case SourceCold:
		return "cold"
	case SourceWait:
		return "wait"
	}
	return "unknown"
}

// Candidate is one way to run the task being placed.
type Candidate struct {
	Source Source
	// Type indexes Context.Types; -1 for SourceWait.
	Type int
	// Start is when the task would start.
	Start float64
	// Money is the task's share of what the candidate adds to the bill (see money in
	// make.go), in USD.
	Money float64
	// Restart says an idle VM is stopped across the gap and started again rather than kept
	// running.
	Restart bool
	// Relief is how many seconds sooner the ready backlog drains with this candidate's VM
	// than without it (a fluid estimate; 0 for SourceWait).
	Relief float64
	// Score is the sum of the scorers' values; the chooser picks the lowest.
	Score float64
	ref   int32
	// holdsQuota: the candidate's VM is idle but still running, so it takes no new quota.
	holdsQuota bool
	// overVMs and overCores are VMs released while this candidate's VM already runs (it is
	// ready before its task starts): quota it shares with them.
	overVMs   int
	overCores float64
	// noLead: request the VM to be ready just when the task starts (quota is tight).
	noLead bool
}

// Tier is the pool tier the candidate draws on, as in Avoid and VM.Tier.
func (c *Candidate) Tier() string {
	switch c.Source {
	case SourceOpen:
		return events.TierHot
	case SourceIdle:
		if c.Restart {
			return events.TierWarm
		}
		return events.TierHot
	case SourcePoolHot:
		return events.TierHot
	case SourcePoolWarm:
		return events.TierWarm
	case SourceCold:
		return events.TierCold
	}
	return ""
}

// addsCores reports whether the candidate brings cores the busy VMs do not have.
func (c *Candidate) addsCores() bool { return c.Source != SourceWait && c.Source != SourceOpen }

// addsVM reports whether taking the candidate puts one more VM on the quota.
func (c *Candidate) addsVM() bool { return c.addsCores() && !c.holdsQuota }

// Context is the read-only state the plugins judge a candidate by.
type Context struct {
	// The task being placed.
	Task     int32
	CPU      float64
	Memory   int64
	Duration float64
	// Rank is the task's upward rank: its duration plus the longest path after it.
	Rank float64
	// Now is the planning time, T the simulated time the task is being placed at.
	Now, T float64
	// Makespan is the plan's current makespan estimate: max over placed tasks of start +
	// rank, at least the critical path from Now.
	Makespan  float64
	Lambda    float64
	Objective Objective
	Types     []catalog.InstanceType
	Quotas    catalog.Quotas
	// LiveVMs and LiveCores are the VMs (and their cores) that hold quota at T: running,
	// starting, or idle and kept running for reuse.
	LiveVMs   int
	LiveCores float64
	// Spent is the money committed so far.
	Spent float64
	// WaitStart is when the task would start if it waited, +Inf when it cannot wait.
	WaitStart float64
	avoid     map[string]bool
	// quotaBlocked counts candidates WithinQuota rejected in this decision.
	quotaBlocked int
}

// Status is a filter's verdict.
type Status uint8

// Filter verdicts.
const (
	StatusOK Status = iota
	// StatusUnfit: the machine cannot hold the task.
	StatusUnfit
	// StatusQuota: one more VM would pass the account's quota.
	StatusQuota
	// StatusAvoided: the caller excluded this type or tier (circuit breaker open).
	StatusAvoided
)

// Filter rejects candidates that cannot work.
type Filter interface {
	Filter(ctx *Context, c *Candidate) Status
}

// Scorer adds one consideration's cost, in USD, to a candidate's score.
type Scorer interface {
	Score(ctx *Context, c *Candidate) float64
}

// Chooser picks the index of the winning candidate among those that passed the filters,
// or -1 for none.
type Chooser interface {
	Choose(ctx *Context, cs []Candidate) int
}

// Pipeline is the allocation pipeline, filter → score → choose, in the style of the
// Kubernetes scheduler framework: each consideration is one small plugin.
type Pipeline struct {
	Filters []Filter
	Scorers []Scorer
	Chooser Chooser
}

// DefaultPipeline is the pipeline Make uses when Input.Pipeline is nil.
func DefaultPipeline() Pipeline {
	return Pipeline{
		Filters: []Filter{FitsShape{}, NotAvoided{}, WithinQuota{}},
		Scorers: []Scorer{MoneyScore{}, MakespanScore{}, DeadlineScore{}, BudgetScore{}},
		Chooser: LowestScore{},
	}
}

// FitsShape rejects machines with fewer cores or less memory than the task needs.
type FitsShape struct{}

var _ Filter = FitsShape{}

// Filter implements Filter.
func (FitsShape) Filter(ctx *Context, c *Candidate) Status {
	if c.Source == SourceWait {
		return StatusOK
	}
	t := &ctx.Types[c.Type] // an open VM's free room was checked when it was found
	if t.Cores+1e-9 < ctx.CPU || t.MemoryBytes < ctx.Memory {
		return StatusUnfit
	}
	return StatusOK
}

// NotAvoided rejects types and tiers the caller excluded.
type NotAvoided struct{}

var _ Filter = NotAvoided{}

// Filter implements Filter.
func (NotAvoided) Filter(ctx *Context, c *Candidate) Status {
	if !c.addsCores() || len(ctx.avoid) == 0 {
		return StatusOK
	}
	name := ctx.Types[c.Type].Name
	if ctx.avoid[name+"/"] || ctx.avoid[name+"/"+c.Tier()] {
		return StatusAvoided
	}
	return StatusOK
}

// WithinQuota rejects a VM that would pass the account's VM or core quota at the time it
// runs. A zero quota means none.
type WithinQuota struct{}

var _ Filter = WithinQuota{}

// Filter implements Filter.
func (WithinQuota) Filter(ctx *Context, c *Candidate) Status {
	if !c.addsVM() {
		return StatusOK
	}
	q := ctx.Quotas
	if (q.MaxVMs > 0 && ctx.LiveVMs+c.overVMs+1 > q.MaxVMs) ||
		(q.MaxCores > 0 && ctx.LiveCores+c.overCores+ctx.Types[c.Type].Cores > q.MaxCores+1e-9) {
		ctx.quotaBlocked++
		return StatusQuota
	}
	return StatusOK
}

// MoneyScore is the money the candidate adds to the bill.
type MoneyScore struct{}

var _ Scorer = MoneyScore{}

// Score implements Scorer.
func (MoneyScore) Score(_ *Context, c *Candidate) float64 { return c.Money }

// delay is how much a start at s pushes the plan's makespan, counting SlackReserve × rank
// of the task's path as already used: with a zero reserve, waiting is free while the task
// has slack; with a huge one, every second of waiting counts.
func delay(ctx *Context, s float64) float64 {
	need := ctx.Rank * (1 + ctx.Objective.SlackReserve)
	ref := max(ctx.Makespan, ctx.T+need)
	return max(0, s+need-ref)
}

// MakespanScore is λ times the makespan the candidate adds. A new VM starts this task
// sooner, but the makespan only shrinks by what the extra cores take off the whole ready
// backlog (Relief): when many tasks wait, one more VM helps the last of them a little, so
// the delay charged to a VM is the waiting delay less that relief, and never less than
// the delay of its own start.
type MakespanScore struct{}

var _ Scorer = MakespanScore{}

// Score implements Scorer.
func (MakespanScore) Score(ctx *Context, c *Candidate) float64 {
	d := delay(ctx, c.Start)
	if c.addsCores() && !math.IsInf(ctx.WaitStart, 1) {
		d = max(d, delay(ctx, ctx.WaitStart)-c.Relief)
	}
	return ctx.Lambda * d
}

// DeadlineScore is the deadline penalty for the lateness the candidate's start adds.
type DeadlineScore struct{}

var _ Scorer = DeadlineScore{}

// Score implements Scorer.
func (DeadlineScore) Score(ctx *Context, c *Candidate) float64 {
	o := ctx.Objective
	if o.DeadlineSeconds <= 0 {
		return 0
	}
	late := c.Start + ctx.Rank - max(ctx.Makespan, o.DeadlineSeconds)
	return o.DeadlinePenalty * max(0, late)
}

// BudgetScore is the budget penalty for the overspend the candidate's money adds.
type BudgetScore struct{}

var _ Scorer = BudgetScore{}

// Score implements Scorer.
func (BudgetScore) Score(ctx *Context, c *Candidate) float64 {
	o := ctx.Objective
	if o.BudgetUSD <= 0 {
		return 0
	}
	over := max(0, ctx.Spent+c.Money-o.BudgetUSD) - max(0, ctx.Spent-o.BudgetUSD)
	return o.BudgetPenalty * over
}

// LowestScore picks the lowest score; ties go to the earlier candidate, and candidates are
// generated in a fixed order, so the choice is deterministic.
type LowestScore struct{}

var _ Chooser = LowestScore{}

// Choose implements Chooser.
func (LowestScore) Choose(_ *Context, cs []Candidate) int {
	best := -1
	for i := range cs {
		if best < 0 || cs[i].Score < cs[best].Score-1e-15 {
			best = i
		}
	}
	return best
}
