package pgdb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/pgdb"
	"github.com/foresight-run/foresight/pkg/testenv"
)

// Migration 7 gives every task run its children, derived from the parents of the runs of
// its own workflow only: task ids repeat across workflows.
func TestTaskChildrenAreBackfilledPerWorkflow(t *testing.T) {
	t.Parallel()
	url, pool := testenv.Database(t)
	ctx := context.Background()
	require.NoError(t, pgdb.MigrateTo(url, 6))
	_, err := pool.Exec(ctx, `
		INSERT INTO task_runs (workflow_id, task_id, state, cpu, memory_bytes, parents, spec) VALUES
		  ('00000000-0000-0000-0000-00000000000a', 'root', 'succeeded', 1, 1, '{}', '{}'),
		  ('00000000-0000-0000-0000-00000000000a', 'left', 'pending', 1, 1, '{root}', '{}'),
		  ('00000000-0000-0000-0000-00000000000a', 'right', 'pending', 1, 1, '{root}', '{}'),
		  ('00000000-0000-0000-0000-00000000000a', 'join', 'pending', 1, 1, '{left,right}', '{}'),
		  ('00000000-0000-0000-0000-00000000000b', 'root', 'pending', 1, 1, '{}', '{}'),
		  ('00000000-0000-0000-0000-00000000000b', 'only', 'pending', 1, 1, '{root}', '{}')`)
	require.NoError(t, err)
	require.NoError(t, pgdb.Migrate(url))

	children := func(wf, task string) []string {
		var out []string
		require.NoError(t, pool.QueryRow(ctx, `SELECT children FROM task_runs WHERE workflow_id = $1 AND task_id = $2`, wf, task).Scan(&out))
		return out
	}
	a, b := "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
	require.Equal(t, []string{"left", "right"}, children(a, "root"))
	require.Equal(t, []string{"join"}, children(a, "left"))
	require.Empty(t, children(a, "join"))
	require.Equal(t, []string{"only"}, children(b, "root"))
}
