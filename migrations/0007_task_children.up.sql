-- allocator: each task run lists its children, so a finished task releases them (and a
-- failed one marks its descendants) by primary key. Searching the workflow's runs for the
-- ones whose parents name the task cost a scan per finished task: task ids repeat across
-- workflows, so the GIN index on parents did not narrow it to the workflow.
ALTER TABLE task_runs ADD COLUMN children text[] NOT NULL DEFAULT '{}';
UPDATE task_runs c SET children = k.children
FROM (SELECT r.workflow_id, p.id AS task_id, array_agg(r.task_id ORDER BY r.task_id) AS children
      FROM task_runs r, unnest(r.parents) AS p(id)
      GROUP BY r.workflow_id, p.id) k
WHERE c.workflow_id = k.workflow_id AND c.task_id = k.task_id;
DROP INDEX IF EXISTS task_runs_children;
-- "Is anything still pending or running?" is asked after every dispatch round; with this
-- and task_runs_dispatched both halves are index probes.
CREATE INDEX task_runs_pending ON task_runs (workflow_id) WHERE state = 'pending';
