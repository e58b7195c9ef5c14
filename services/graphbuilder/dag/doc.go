// Package dag is the graph builder's compact task graph and its static analysis.
//
// Model: a workflow is a directed acyclic graph of tasks, stored in compressed sparse
// row (CSR) form — tasks are dense indices 0..n-1, each task's parents and children are a
// slice of one shared []int32 — so a 100,000-task, 400,000-edge graph costs a few
// megabytes and is walked without pointer chasing.
//
// Analysis follows the classical list-scheduling quantities with zero communication cost
// and unbounded machines: the ASAP (earliest start) schedule, its width profile, the
// critical path (CPM, Kelley & Walker 1959) with per-task slack, and the upward rank of
// HEFT (Topcuoglu, Hariri & Wu, "Performance-effective and low-complexity task scheduling
// for heterogeneous computing", IEEE TPDS 2002) with mean computation costs. Topological
// order is Kahn's algorithm (1962), visiting ready tasks in index order so that the result
// is deterministic.
//
// The package has no I/O, no clock and no goroutines: it takes tasks and durations and
// returns numbers, so the simulator and the service run the same code.
package dag
