ALTER TABLE vms DROP COLUMN starts;
ALTER TABLE task_runs DROP COLUMN planned_start;
