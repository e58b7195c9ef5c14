// Package planner is the allocator's decision core: the cost function and the scheduling
// plan. Given a task DAG with predicted durations, the instance catalog, the objective and
// what the pool holds, Make returns which VMs to request from which tier and when, which VM
// each task runs on and when, and the plan's predicted makespan and cost.
//
//	tasks, durations ──► upward ranks ──► forward simulation (time order, rank priority)
//	                                         │ a task is ready
//	                                         ▼
//	              room on a busy VM inside its paid life? ── yes ──► place (free)
//	                                         │ no
//	                                         ▼
//	   candidates: wait · share a busy VM longer · idle VM (keep running | stop+start)
//	               · hot pool VM · warm pool VM · cold launch, for every instance type
//	                                         ▼
//	        filters (FitsShape, NotAvoided, WithinQuota) → scorers (MoneyScore,
//	        MakespanScore, DeadlineScore, BudgetScore) → chooser (LowestScore)
//	                                         ▼
//	        VM runs with request / ready / release times, placements, cost (Cost)
//
// # Model
//
// The objective is money as billed plus λ × makespan, plus penalties for lateness past a
// deadline and spend past a budget. Money follows the catalog: each VM run is billed per
// second from when it is running to its release, at least the minimum bill per start, idle
// time inside a run included, and a machine stopped between two runs pays its warm
// (storage) cost for the gap (see Cost). ObjectiveFor derives λ from the user's mode.
//
// Make is list scheduling in the order of HEFT's upward rank (Topcuoglu, Hariri and Wu,
// "Performance-Effective and Low-Complexity Task Scheduling for Heterogeneous Computing",
// IEEE TPDS 13(3), 2002), run as a forward discrete-event simulation on the predicted
// durations: when tasks become ready, the one with the longest path to the end goes first.
// It takes free cores and memory on a VM the plan already runs when the task ends within
// that VM's paid life (several tasks share a VM; best fit, so whole VMs empty out and are
// released). Otherwise the pipeline weighs every candidate by its marginal objective:
//
//   - Money is the task's share of what the candidate adds to the bill. A new VM's bill P
//     (its run, at least the minimum bill, plus any idle gap) is split by how much of it the
//     ready backlog that the busy VMs cannot absorb would fill: the task pays its own use
//     plus the unfilled part, P·(own + 1 − fill). A wave that fills the VM makes it cost
//     each task about its own run; a VM only this task would use costs it all. Sharing a
//     busy VM that would otherwise stop sooner costs the extension nobody else fills.
//   - Makespan is λ × how far the start pushes the plan's makespan estimate (the largest
//     start + upward rank so far), after keeping Objective.SlackReserve × rank of each
//     task's slack in reserve. A task with slack waits for a shared VM at no charge. For a
//     new VM the charge is the waiting delay less the VM's relief, the time its cores take
//     off draining the running work and the ready backlog (W/C − W/(C+c), a fluid
//     estimate): one more VM helps the last of many waiting tasks only a little, which
//     keeps a wide wave from buying a VM per task. Waiting is estimated the same way, by
//     the work queued before the task.
//
// Because the plan looks ahead, every VM is requested its tier's mean latency before its
// first task starts, plus Knobs.WarmAheadSeconds, plus Knobs.DriftLead of the time until
// then (far-off starts drift with every prediction error on the way). A VM is released
// when the plan has no more work for it; a later wave on the same machine keeps it running
// across the gap or stops it and starts it again from warm, whichever bills less.
//
// Quotas hold at every instant from ready to release: idle VMs the plan may still keep
// running count until the quota needs their room, VMs requested early are checked against
// the VMs released meanwhile, and a task that waits because the quota is full is reported
// as contention.
//
// The pipeline follows the Kubernetes scheduler framework: each consideration is one small
// plugin type with one method, and a caller adds one by passing its own Pipeline.
//
// # Cost of planning
//
// Each task is placed once; ready tasks sit in a rank heap and simulation events in a time
// heap; a dispatch looks at most a few tasks past the first that waits, and a task that
// can wait without delaying anything skips the pipeline. Planning is O((n + e) log n)
// plus one pass over the catalog's types per pipeline run: about 1 µs per task for a
// 10,000-task DAG on one core. Make is deterministic: no map is iterated, ties break on
// indices.
package planner
