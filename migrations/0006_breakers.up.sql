-- poolmanager: the state of each provider circuit breaker, so plans can route around an
-- open one (the allocator passes open scopes to the planner) and say so.
CREATE TABLE provider_breakers (
    scope         text        PRIMARY KEY, -- "cold/m7i.large", "warm/c7i.large", "control", "provider"
    tier          text        NOT NULL,
    instance_type text        NOT NULL,
    state         text        NOT NULL,    -- closed, half-open, open
    updated_at    timestamptz NOT NULL
);
