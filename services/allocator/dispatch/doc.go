// Package dispatch decides which ready tasks start now and on which VM.
//
// It is the online half of allocation: the planner decides ahead of time which VMs exist
// and where each task should go; dispatch follows that plan when it can and adapts when
// reality differs. A task is ready when every parent succeeded. Ready tasks are taken in
// priority order (upward rank, as in HEFT's list scheduling — Topcuoglu, Hariri and Wu,
// 2002) and placed first on their planned VM, else on the VM with the least free room that
// still fits them (best fit, which keeps large holes open for large tasks). A task whose
// parent failed for good is marked upstream_failed, as Airflow does, and never runs.
package dispatch
