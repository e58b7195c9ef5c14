-- allocator: dispatch reads only tasks that can start (every parent succeeded) and tasks
-- running, instead of the whole workflow on every event.
ALTER TABLE task_runs ADD COLUMN unfinished_parents int;
UPDATE task_runs r SET unfinished_parents = (
    SELECT count(*) FROM unnest(r.parents) p
    JOIN task_runs pr ON pr.workflow_id = r.workflow_id AND pr.task_id = p
    WHERE pr.state <> 'succeeded');
ALTER TABLE task_runs ALTER COLUMN unfinished_parents SET NOT NULL;
ALTER TABLE task_runs ALTER COLUMN unfinished_parents SET DEFAULT 0;
CREATE INDEX task_runs_ready ON task_runs (workflow_id) WHERE state = 'pending' AND unfinished_parents = 0;
CREATE INDEX task_runs_dispatched ON task_runs (workflow_id) WHERE state = 'dispatched';
CREATE INDEX task_runs_children ON task_runs USING gin (parents);
CREATE INDEX task_runs_planned ON task_runs (workflow_id, planned_vm) WHERE state = 'pending';

-- predictor: each task's current prediction, read by primary key (the monitor's drift
-- check) instead of out of the whole forecast document.
CREATE TABLE predictions (
    workflow_id uuid             NOT NULL,
    task_id     text             NOT NULL,
    p50_seconds double precision NOT NULL,
    p90_seconds double precision NOT NULL,
    source      text             NOT NULL,
    revision    int              NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, task_id)
);

-- allocator: each VM's room in use, kept as tasks start and finish, so dispatch does not
-- read every running task to know what is free.
ALTER TABLE allocation_vms ADD COLUMN used_cores double precision NOT NULL DEFAULT 0;
ALTER TABLE allocation_vms ADD COLUMN used_memory_bytes bigint NOT NULL DEFAULT 0;
UPDATE allocation_vms v SET used_cores = u.cores, used_memory_bytes = u.mem
FROM (SELECT vm_id, sum(cpu) AS cores, sum(memory_bytes) AS mem FROM task_runs WHERE state = 'dispatched' GROUP BY vm_id) u
WHERE v.vm_id = u.vm_id;

-- monitor: each workflow's settled outcomes, counted as observations arrive, so the
-- completion check does not count the workflow's history on every event.
CREATE TABLE workflow_progress (
    workflow_id    uuid PRIMARY KEY,
    total          int  NOT NULL,
    succeeded      int  NOT NULL DEFAULT 0,
    final_failures int  NOT NULL DEFAULT 0
);
