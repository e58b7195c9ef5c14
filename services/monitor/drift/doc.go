// Package drift decides when a finished task's observation says the plan no longer
// matches reality, so the allocator should re-plan the unfinished part of the workflow.
//
// The rule follows the spirit of Pegasus' and Nextflow's resubmission on failure, applied
// to predictions: a task that ran past its P90 (the plan's upper band) or finished in less
// than half its P50 (capacity planned for it sits idle) is drift, as is an OOM kill (its
// retry needs a bigger slot). Differences under MinSeconds are noise, not drift: a plan is
// not worth re-making for a few seconds. A prediction that was only a prior (nothing
// known about the task) cannot drift: re-planning on the first observation of a guess
// would re-plan every new workflow.
package drift
