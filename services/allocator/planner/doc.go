// Package planner is the allocator's decision core: the cost function and the scheduling
// plan. Given a task DAG with predicted durations, the instance catalog, the objective and
// what the pool holds, Make returns which VMs to request from which tier and when, which VM
// each task runs on and when, and the plan's predicted makespan and cost.
//
// # Model
//
// The objective is money as billed (per second from each launch or start, a minimum bill
// per start, hot idle time billed, warm standby storage for stopped gaps; see Cost) plus
// λ × makespan, plus penalties for lateness past a deadline and spend past a budget.
// ObjectiveFor derives λ from the user's mode.
//
// Make is list scheduling in the order of HEFT's upward rank (Topcuoglu, Hariri and Wu,
// "Performance-Effective and Low-Complexity Task Scheduling for Heterogeneous Computing",
// IEEE TPDS 13(3), 2002), run as a forward simulation on the predicted durations: when
// tasks become ready, the one with the longest path to the end goes first. It takes free
// cores and memory on a VM the plan already runs (several tasks share a VM; best fit, so
// whole VMs empty out and can be released). Otherwise the allocation pipeline weighs, by
// marginal objective, reusing an idle VM of the plan (kept running across the gap or
// stopped and started again, whichever bills less), claiming a hot or warm VM from the
// pool, launching a cold VM, or waiting for capacity the plan already pays for. Money is the
// task's share of the VM's bill: the ready backlog fills the VM, so a VM a whole wave will
// use costs each task about its own run, and one only this task uses costs it all. The
// makespan term charges λ for every second the start pushes past the plan's makespan
// estimate (max of start + upward rank), after keeping Objective.SlackReserve × rank of
// slack in reserve; so tasks with slack wait for a shared VM and critical ones get a VM
// of their own.
//
// Because the plan looks ahead, every VM is requested its tier's mean latency (plus
// Knobs.WarmAheadSeconds) before its first task starts, and is released when the plan has
// no more work for it; a later wave on the same machine restarts it from warm when the gap
// makes a stop and start cheaper than idling. Quotas are respected at every instant of the
// simulation; a task that waits because the quota is full is reported as contention.
//
// The pipeline (filter → score → choose) follows the Kubernetes scheduler framework: each
// consideration (FitsShape, NotAvoided, WithinQuota, MoneyScore, MakespanScore,
// DeadlineScore, BudgetScore, LowestScore) is one small plugin type, and a caller adds one
// by passing its own Pipeline.
//
// # Cost of planning
//
// Each task is placed once; ready tasks sit in a rank heap and simulation events in a time
// heap, so planning is O(n log n + e) plus, for tasks no running VM can take, one pass
// over the catalog's types. Make is deterministic: no maps are iterated, ties break on
// indices.
package planner
