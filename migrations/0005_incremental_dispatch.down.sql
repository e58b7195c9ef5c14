DROP TABLE IF EXISTS workflow_progress;
ALTER TABLE allocation_vms DROP COLUMN IF EXISTS used_memory_bytes;
ALTER TABLE allocation_vms DROP COLUMN IF EXISTS used_cores;
DROP TABLE IF EXISTS predictions;
DROP INDEX IF EXISTS task_runs_planned;
DROP INDEX IF EXISTS task_runs_children;
DROP INDEX IF EXISTS task_runs_dispatched;
DROP INDEX IF EXISTS task_runs_ready;
ALTER TABLE task_runs DROP COLUMN unfinished_parents;
