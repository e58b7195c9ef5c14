// Package completion decides, from a workflow's graph and the latest observation of each
// task, whether the workflow has finished and how.
//
// A task is settled when it succeeded, when it failed on its last allowed attempt
// (attempt > retries), or when an ancestor failed for good (it will never run: Airflow's
// upstream_failed). The workflow is complete when every task is settled; it succeeded when
// every task succeeded.
package completion
