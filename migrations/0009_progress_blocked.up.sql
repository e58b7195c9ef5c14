-- monitor: how many tasks can never run because an ancestor failed for good, counted at
-- each final failure. With it, "complete?" stays a count check after a failure instead of
-- a walk of the whole graph on every observation. Progress rows that exist already leave
-- it NULL (unknown), and their workflows are checked the old way.
ALTER TABLE workflow_progress ADD COLUMN blocked int;
ALTER TABLE workflow_progress ALTER COLUMN blocked SET DEFAULT 0;
