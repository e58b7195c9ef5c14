-- Scale-in that looks ahead.
-- allocator: when the plan starts each pending task, so an idle VM's next need is known.
ALTER TABLE task_runs ADD COLUMN planned_start double precision;
-- poolmanager: how many times a VM was started (each start is announced once), and a
-- stopped VM's planned restart time reuses launch_at.
ALTER TABLE vms ADD COLUMN starts int NOT NULL DEFAULT 0;

-- predictor: the pool forecaster reads recent busy cores by finish time.
CREATE INDEX task_observations_by_finish ON task_observations (finished_at);

-- poolmanager: the standing pool. Unbound VMs (workflow_id IS NULL) are the pool; targets
-- per instance type come from the predictor's pool forecast.
CREATE TABLE pool_targets (
    instance_type text        PRIMARY KEY,
    hot           int         NOT NULL,
    warm          int         NOT NULL,
    reason        text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vms_pool ON vms (instance_type, state) WHERE workflow_id IS NULL;

-- poolmanager: each VM's transitions are numbered, so each is announced exactly once.
ALTER TABLE vms ADD COLUMN transitions int NOT NULL DEFAULT 0;

-- allocator: the predictions revision its copy of the forecast holds.
ALTER TABLE allocations ADD COLUMN revision int NOT NULL DEFAULT 0;

-- predictor: learned state is opaque to SQL and may hold \u0000 (model keys), which jsonb
-- refuses; keep it as bytes.
ALTER TABLE predictor_state ALTER COLUMN state TYPE bytea USING convert_to(state::text, 'UTF8');

-- monitor: when each stalled workflow's events were last re-emitted.
CREATE TABLE reconciliations (
    workflow_id uuid        PRIMARY KEY,
    at          timestamptz NOT NULL,
    count       int         NOT NULL DEFAULT 1
);
CREATE INDEX outbox_by_subject ON outbox (subject);
