package pgdb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/pgdb"
	"github.com/foresight-run/foresight/pkg/testenv"
)

// TestMigrationsGoDownAndUp applies every migration (testenv does), writes the kind of
// state the later ones convert, reverts them all, and applies them again.
func TestMigrationsGoDownAndUp(t *testing.T) {
	t.Parallel()
	url, pool := testenv.Database(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO predictor_state (name, state) VALUES ('model/runtime', '\x7b22615c75303030302262223a317d'::bytea), ('policy/linucb', '{"a":1}'::bytea)`)
	require.NoError(t, err)
	require.NoError(t, pgdb.MigrateDown(url))
	var tables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`).Scan(&tables))
	require.Zero(t, tables, "down removes every table")
	require.NoError(t, pgdb.Migrate(url))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables))
	require.Greater(t, tables, 10)
}
