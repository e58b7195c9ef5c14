-- Foresight's durable state. Each table names its owning service in a comment; services
-- only write their own tables (the gateway reads several to answer status queries).

-- Effectively-once plumbing, shared by every service.
-- processed_events is the inbox: a handler inserts (consumer, event_id) in the same
-- transaction as its effect; zero rows inserted means a duplicate delivery.
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- outbox holds every event a service announces, written in the transaction of the state
-- change; the relay publishes rows in order and marks them once JetStream acknowledged.
CREATE TABLE outbox (
    seq          bigserial   PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE, -- the envelope id and Nats-Msg-Id
    subject      text        NOT NULL,
    type         text        NOT NULL,
    payload      bytea       NOT NULL,        -- the encoded envelope
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE dead_letters (
    id         bigserial   PRIMARY KEY,
    consumer   text        NOT NULL,
    event_id   text        NOT NULL,
    subject    text        NOT NULL,
    payload    bytea       NOT NULL,
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- gateway: submissions and their lifecycle status.
CREATE TABLE workflows (
    id               uuid        PRIMARY KEY,
    name             text        NOT NULL,
    family           text        NOT NULL,
    tenant           text        NOT NULL DEFAULT 'default',
    status           text        NOT NULL, -- submitted, building, planned, running, succeeded, failed, rejected
    spec             jsonb       NOT NULL,
    idempotency_key  text,
    submitted_at     timestamptz NOT NULL,
    completed_at     timestamptz,
    makespan_seconds double precision,
    problems         jsonb
);
CREATE UNIQUE INDEX workflows_idempotency ON workflows (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- gateway: every lifecycle event seen for a workflow, in arrival order (status, SSE).
CREATE TABLE workflow_events (
    seq         bigserial   PRIMARY KEY,
    workflow_id uuid        NOT NULL,
    event_id    text        NOT NULL UNIQUE,
    type        text        NOT NULL,
    event_time  timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_events_by_workflow ON workflow_events (workflow_id, seq);

-- graphbuilder: the analysed graph, one row per task plus the whole event.
CREATE TABLE graphs (
    workflow_id uuid        PRIMARY KEY,
    graph       jsonb       NOT NULL,
    built_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE workflow_tasks (
    workflow_id      uuid             NOT NULL,
    task_id          text             NOT NULL,
    signature        text             NOT NULL,
    category         text             NOT NULL,
    cpu              double precision NOT NULL,
    memory_bytes     bigint           NOT NULL,
    parents          text[]           NOT NULL,
    level            int              NOT NULL,
    estimate_seconds double precision NOT NULL,
    estimate_source  text             NOT NULL,
    retries          int              NOT NULL DEFAULT 0,
    input_bytes      bigint           NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, task_id)
);

-- predictor: the forecast it published for each workflow.
CREATE TABLE forecasts (
    workflow_id uuid        PRIMARY KEY,
    forecast    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- allocator: versioned plans, the VMs it can place tasks on, and each task's dispatch state.
CREATE TABLE plans (
    workflow_id uuid        NOT NULL,
    version     int         NOT NULL,
    plan        jsonb       NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, version)
);
CREATE TABLE allocations (
    workflow_id uuid        PRIMARY KEY, -- one row per workflow; locked FOR UPDATE by every handler
    plan_version int        NOT NULL DEFAULT 0,
    state       text        NOT NULL,    -- planned, running, done
    graph       jsonb       NOT NULL,    -- the demand-predicted payload the plan came from
    started_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE allocation_vms (
    vm_id        text             PRIMARY KEY,
    workflow_id  uuid             NOT NULL,
    vm_key       text             NOT NULL,
    instance_type text            NOT NULL DEFAULT 'local',
    cores        double precision NOT NULL,
    memory_bytes bigint           NOT NULL,
    ready_at     timestamptz      NOT NULL,
    released     boolean          NOT NULL DEFAULT false
);
CREATE INDEX allocation_vms_by_workflow ON allocation_vms (workflow_id);
CREATE TABLE task_runs (
    workflow_id   uuid             NOT NULL,
    task_id       text             NOT NULL,
    state         text             NOT NULL, -- pending, dispatched, succeeded, failed, upstream_failed
    attempt       int              NOT NULL DEFAULT 0,
    vm_id         text,
    cpu           double precision NOT NULL,
    memory_bytes  bigint           NOT NULL,
    parents       text[]           NOT NULL,
    retries       int              NOT NULL DEFAULT 0,
    priority      double precision NOT NULL DEFAULT 0, -- upward rank: longest path to the end
    planned_vm    text             NOT NULL DEFAULT '', -- the plan's VM key for this task
    spec          jsonb            NOT NULL, -- the events.Task to dispatch
    dispatched_at timestamptz,
    finished_at   timestamptz,
    PRIMARY KEY (workflow_id, task_id)
);
CREATE INDEX task_runs_by_vm ON task_runs (vm_id) WHERE state = 'dispatched';

-- poolmanager: every VM, keyed by its launch idempotency key, written before the provider
-- is called so a retry after a crash reuses the key and never makes a second VM.
CREATE TABLE vms (
    key           text             PRIMARY KEY,
    -- provider_key is the key actually sent to the provider: the plan's key, or a key derived
    -- from it when a circuit breaker forced a fallback to another type or tier. It is
    -- committed before the call that uses it.
    provider_key  text,
    vm_id         text             UNIQUE,
    workflow_id   uuid,
    provider      text             NOT NULL,
    instance_type text             NOT NULL,
    tier          text             NOT NULL,
    cores         double precision NOT NULL,
    memory_bytes  bigint           NOT NULL,
    state         text             NOT NULL, -- requested, provisioning, hot_idle, busy, idle, warm, terminated, failed
    requested_at  timestamptz      NOT NULL DEFAULT now(),
    launch_at     timestamptz      NOT NULL DEFAULT now(), -- the plan's request time: proactive launches wait for it
    reason        text             NOT NULL DEFAULT '',
    ready_at      timestamptz,
    released_at   timestamptz,
    updated_at    timestamptz      NOT NULL DEFAULT now()
);

-- poolmanager's agents: one row per task attempt started on a VM, so a redelivered dispatch
-- of a finished attempt is never run again.
CREATE TABLE agent_runs (
    workflow_id uuid        NOT NULL,
    task_id     text        NOT NULL,
    attempt     int         NOT NULL,
    vm_id       text        NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    status      text,
    PRIMARY KEY (workflow_id, task_id, attempt)
);

-- monitor: the history every prediction learns from.
CREATE TABLE task_observations (
    workflow_id       uuid             NOT NULL,
    task_id           text             NOT NULL,
    attempt           int              NOT NULL,
    vm_id             text             NOT NULL,
    family            text             NOT NULL,
    signature         text             NOT NULL,
    category          text             NOT NULL,
    status            text             NOT NULL,
    exit_code         int              NOT NULL,
    started_at        timestamptz      NOT NULL,
    finished_at       timestamptz      NOT NULL,
    runtime_seconds   double precision NOT NULL,
    cpu_seconds       double precision NOT NULL,
    peak_rss_bytes    bigint           NOT NULL,
    predicted_seconds double precision,
    input_bytes       bigint           NOT NULL DEFAULT 0,
    error             text             NOT NULL DEFAULT '',
    PRIMARY KEY (workflow_id, task_id, attempt)
);
CREATE INDEX task_observations_by_signature ON task_observations (signature, finished_at);

-- predictor: learned state that must survive restarts (the RL policy). Runtime models are
-- rebuilt from task_observations at start and updated online from prediction deltas.
CREATE TABLE predictor_state (
    name       text        PRIMARY KEY,
    state      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
