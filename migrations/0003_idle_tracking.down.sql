ALTER TABLE vms DROP COLUMN plan_key;
ALTER TABLE allocation_vms DROP COLUMN idle_key;
ALTER TABLE allocations DROP COLUMN planned_at;
