DROP TABLE IF EXISTS reconciliations;
DROP INDEX IF EXISTS outbox_by_subject;
DELETE FROM predictor_state WHERE name = 'model/runtime'; -- may hold \u0000, which jsonb refuses; it is re-learned from history
ALTER TABLE predictor_state ALTER COLUMN state TYPE jsonb USING convert_from(state, 'UTF8')::jsonb;
DROP TABLE IF EXISTS pool_targets;
DROP INDEX IF EXISTS task_observations_by_finish;
ALTER TABLE allocations DROP COLUMN revision;
ALTER TABLE vms DROP COLUMN transitions;
ALTER TABLE vms DROP COLUMN starts;
ALTER TABLE task_runs DROP COLUMN planned_start;
