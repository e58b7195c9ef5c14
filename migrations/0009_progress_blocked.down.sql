ALTER TABLE workflow_progress DROP COLUMN blocked;
