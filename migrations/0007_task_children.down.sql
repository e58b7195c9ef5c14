DROP INDEX IF EXISTS task_runs_pending;
CREATE INDEX task_runs_children ON task_runs USING gin (parents);
ALTER TABLE task_runs DROP COLUMN children;
