-- allocator: plan times count from when the first plan was made; the announced idle state
-- of each VM, so an idle VM is announced again when its next need changes (and not on
-- every event while it does not).
ALTER TABLE allocations ADD COLUMN planned_at timestamptz;
UPDATE allocations SET planned_at = updated_at WHERE planned_at IS NULL;
ALTER TABLE allocation_vms ADD COLUMN idle_key text;
-- poolmanager: the plan's key for the VM, kept across relaunches, so planned tasks still
-- find their VM after a scale-in relaunched it under a new launch key.
ALTER TABLE vms ADD COLUMN plan_key text;
