-- monitor: a task observation reads its workflow's family. graph->>'family' detoasts the
-- whole graph document, so every observation cost as much as the workflow is large; a
-- stored generated column is computed once, when the graph is written.
ALTER TABLE graphs ADD COLUMN family text GENERATED ALWAYS AS (graph->>'family') STORED;
