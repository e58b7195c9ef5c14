// Package bench is the scoreboard behind `foresight bench`: it replays recorded workflow
// traces (WfCommons WfFormat) in virtual time through the same decision cores the services
// run — graph analysis, runtime prediction, the LinUCB knob policy and the planner — and
// through baseline autoscalers, executing every schedule in one discrete-event simulator
// against the instance catalog's prices and launch latencies.
//
// # The simulator
//
// Time is virtual and starts at 0 when the workflow is submitted. A task runs for its TRUE
// (recorded) runtime with the cores and memory the trace gives it, on one VM, once all its
// parents have finished and the VM is ready and has room. A VM becomes ready a sampled
// tier latency after it is requested (hot 0, warm = start a stopped VM, cold = launch new;
// lognormal fits of the catalog's mean and P90, drawn with u clamped to [0.01, 0.99] from a
// seeded RNG so the lower bound can use the 1% quantile). Billing follows the catalog: each
// running interval of a VM is billed per second from ready to release with a minimum of
// MinimumBillSeconds; a stopped (warm) standby costs WarmCostPerSecond while it waits.
// Events at the same instant are applied together and then the policy decides, so the
// result depends only on the traces, the catalog and the seed.
//
// # Policies
//
//   - foresight: the graph analysis feeds the predictor model (history plus the run's own
//     finished siblings never — predictions are made at submission), the LinUCB policy picks
//     the runtime quantile, memory headroom and warm-ahead knobs, and the planner turns the
//     predicted durations into VM requests and placements. The simulator then executes that
//     plan against the true runtimes: every task goes to the VM the plan gave it, and among
//     a VM's runnable tasks the earliest planned starts first; a later-planned task may
//     start early when it fits (backfill). A VM is requested at its planned request time
//     whatever happened before, and released as soon as every task placed on it has
//     finished. Nothing is re-planned yet (the hook is Options.Replan, unused).
//   - oracle: the same planner given the true runtimes, executed the same way.
//   - reactive-cold: Karpenter / cluster-autoscaler. Runnable tasks are placed first-fit,
//     oldest VM first (bin-packing, kinder to the baseline than kube-scheduler's default
//     LeastAllocated spreading); tasks that do not fit on a ready or booting VM make it
//     launch cold VMs of the baseline type; a VM idle for IdleTimeout (60 s, equal to the
//     minimum bill, far shorter than cluster-autoscaler's 10 min default) is terminated.
//   - reactive-warm: EC2 Auto Scaling with a warm pool. As reactive-cold, but launches are
//     drawn from a pool of stopped, pre-initialised VMs (warm latency, storage cost while
//     stopped) and scale-in returns VMs to it (ReuseOnScaleIn). AWS sizes a warm pool by
//     default as the group's maximum minus its desired capacity; the maximum is set to the
//     VMs that cover the workflow's ASAP peak demand, so the whole peak starts warm.
//   - static-peak: a hot pool covering the ASAP peak demand (every task at its earliest
//     start on unlimited machines) is running from before submission until the workflow
//     ends; tasks are placed first-fit in FIFO order.
//
// The baselines use one instance type: the cheapest type per core that fits the
// workflow's largest task (cores and memory), so they can place every task.
//
// # Lower bounds
//
// Makespan ≥ max(critical path, total core-seconds / quota cores), plus the smallest
// launch latency the simulator can draw (the 1% quantile of the fastest non-hot tier) for
// policies that start with no hot VM. Cost ≥ the linear-programming bound: the cheapest
// fractional mix of instance types whose core-seconds and byte-seconds cover the work
// (solved exactly over single types and pairs), and at least one minimum charge. The issue
// asks for LP + one minimum charge; that sum is not a valid bound when the work keeps every
// VM busy past its minimum, so the bound here is the maximum of the two, which every
// policy's bill provably meets.
//
// # Prediction accuracy
//
// For each scored trace every task is predicted at dispatch (its start time in the
// foresight run) from everything observed before that moment: history plus the run's
// siblings that had finished. The baselines are Argo's last-run estimate and Dask's EWMA
// (α = 0.5) per task signature, falling back to the category, the family and then all
// history. Reported: per-task median absolute percentage error, P90 coverage (for the
// point baselines, the share of actuals at or under the point estimate), and the makespan
// forecast error |CP(predicted) − CP(true)| / CP(true) of the critical path. The same
// figures for predictions made at submission are reported as "<method>@submit".
package bench
