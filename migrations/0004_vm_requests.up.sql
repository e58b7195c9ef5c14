-- allocator: every VM the workflow's plans requested, so a request whose planned tasks all
-- ran elsewhere can be cancelled before it costs a minimum charge.
CREATE TABLE allocation_requests (
    workflow_id uuid NOT NULL,
    vm_key      text NOT NULL,
    state       text NOT NULL, -- requested, provisioned, unneeded
    PRIMARY KEY (workflow_id, vm_key)
);
