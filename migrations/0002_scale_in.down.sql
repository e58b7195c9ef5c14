DROP TABLE IF EXISTS pool_targets;
DROP INDEX IF EXISTS task_observations_by_finish;
ALTER TABLE allocations DROP COLUMN revision;
ALTER TABLE vms DROP COLUMN transitions;
ALTER TABLE vms DROP COLUMN starts;
ALTER TABLE task_runs DROP COLUMN planned_start;
