package planner

import (
	"math"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// Modes a user can ask for.
const (
	ModeFastest  = "fastest"
	ModeCheapest = "cheapest"
	ModeBalanced = "balanced"
)

// Default slack reserves per mode (see Objective.SlackReserve). balanced keeps a tenth of
// each task's remaining path in reserve: predictions at the policy's quantile still miss by
// 20–30% on real traces, and a plan that spends every second of slack turns every miss into
// a later finish.
const (
	balancedLambdaCores  = 3
	balancedSlackReserve = 0.1
	fastestSlackReserve  = 1e6
)

// cheapestCorePrice is the lowest price of one core for a second in the catalog: the unit
// every mode's λ is expressed in.
func cheapestCorePrice(cat catalog.Catalog) float64 {
	p := math.Inf(1)
	for _, t := range cat.Types {
		if t.Cores > 0 {
			p = min(p, t.PricePerSecond/t.Cores)
		}
	}
	if math.IsInf(p, 1) {
		return 0
	}
	return p
}

// ObjectiveFor turns a user's mode and optional explicit λ, deadline and budget into the
// planner's Objective. Explicit values override the mode.
//
//   - fastest: λ is ten times the price of every core the quota allows (or of the work
//     spread over a minute, if larger), so no saving is ever worth a second of makespan, and
//     no task waits for a shared VM.
//   - cheapest: λ is a hundredth of one core's price: makespan only breaks ties, tasks wait
//     for capacity the plan already pays for.
//   - balanced (default): λ = 3 × price of one core × the DAG's average parallelism (total
//     work / critical path, measured by Make on the predicted durations). A second of
//     makespan is worth what the cores that run the workflow at its average parallelism
//     cost for three seconds, so a new VM is started when the delay it takes off the ready
//     backlog is worth more than the VM's idle and minimum-bill money. The factor 3 was
//     chosen on the development traces (all families, replayed with 25% runtime errors):
//     at 1 the plan finished about 8% later than an EC2 warm-pool autoscaler for 36% of its
//     cost, at 3 level with it for 43%, at 8 3% sooner for 50%. Tasks keep a tenth of
//     their remaining path as reserve slack.
//
// A deadline is enforced with the fastest mode's λ as its per-second penalty; a budget with
// ten dollars of penalty per dollar over.
func ObjectiveFor(mode string, lambda, deadline, budget *float64, totalWorkCoreSeconds float64, cat catalog.Catalog) Objective {
	p := cheapestCorePrice(cat)
	urgent := 10 * p * max(cat.Quotas.MaxCores, max(totalWorkCoreSeconds, 0)/60)
	if urgent == 0 {
		urgent = 1
	}
	var o Objective
	switch mode {
	case ModeFastest:
		o = Objective{Mode: ModeFastest, Lambda: urgent, SlackReserve: fastestSlackReserve}
	case ModeCheapest:
		o = Objective{Mode: ModeCheapest, Lambda: p / 100}
	default:
		o = Objective{Mode: ModeBalanced, LambdaPerParallelCore: balancedLambdaCores * p, SlackReserve: balancedSlackReserve}
	}
	if lambda != nil && *lambda >= 0 {
		o.Lambda, o.LambdaPerParallelCore = *lambda, 0
	}
	if deadline != nil && *deadline > 0 {
		o.DeadlineSeconds, o.DeadlinePenalty = *deadline, urgent
	}
	if budget != nil && *budget > 0 {
		o.BudgetUSD, o.BudgetPenalty = *budget, 10
	}
	return o
}
