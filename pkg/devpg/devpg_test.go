package devpg

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func noEnv(string) string { return "" }

// closedPortURL is an admin URL nothing answers on, which forces the initdb path.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
}

func queryOne(t *testing.T, dbURL, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var s string
	require.NoError(t, conn.QueryRow(context.Background(), sql).Scan(&s))
	return s
}

func TestEnsureUsesEnvironment(t *testing.T) {
	t.Parallel()
	want := "postgres://someone@db.example:5432/x?sslmode=require"
	f := finder{
		getenv: func(k string) string {
			if k == EnvDatabaseURL {
				return want
			}
			return ""
		},
		adminURL: closedPortURL(t),
	}
	got, stop, err := f.ensure(context.Background(), t.TempDir(), quietLog())
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NoError(t, stop())
}

func TestEnsureNothingAvailable(t *testing.T) {
	t.Parallel()
	f := finder{getenv: noEnv, adminURL: closedPortURL(t), database: "foresight", binGlobs: []string{filepath.Join(t.TempDir(), "*")}}
	_, stop, err := f.ensure(context.Background(), t.TempDir(), quietLog())
	require.ErrorIs(t, err, ErrNoPostgres)
	require.Contains(t, err.Error(), EnvDatabaseURL)
	require.Contains(t, err.Error(), "install PostgreSQL")
	require.NoError(t, stop())
}

// TestEnsureLocalServer runs against the machine's real server: TEST_DATABASE_URL when set,
// else 127.0.0.1:5432. It uses its own database name so it can check the creation path and
// drop the database afterwards.
func TestEnsureLocalServer(t *testing.T) {
	t.Parallel()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = defaultFinder().adminURL
	}
	if testing.Short() {
		t.Skip("needs a PostgreSQL server (TEST_DATABASE_URL or 127.0.0.1:5432)")
	}
	name := "foresight_devpg_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	f := finder{getenv: noEnv, adminURL: admin, database: name}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
			_ = conn.Close(context.Background())
		}
	})

	dir := t.TempDir()
	for _, run := range []string{"creates the database", "finds it the second time"} {
		got, stop, err := f.ensure(context.Background(), dir, quietLog())
		require.NoError(t, err, run)
		require.Equal(t, name, queryOne(t, got, "SELECT current_database()"), run)
		require.NoError(t, stop(), run)
		require.NoDirExists(t, filepath.Join(dir, "data"), "made a cluster although a server answers")
	}
}

// TestEnsureInitdbCluster forces the initdb path into a temporary directory: it makes a
// cluster, adopts it when a "crashed" process left it running, stops it, and restarts it
// with the data intact.
func TestEnsureInitdbCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	f := defaultFinder()
	f.getenv = noEnv
	f.adminURL = closedPortURL(t)
	if _, err := f.findBin(); err != nil {
		t.Skip("no initdb/pg_ctl on this machine (PATH, /usr/lib/postgresql/*/bin); install PostgreSQL to run this test")
	}
	dir := filepath.Join(t.TempDir(), "pg")
	if os.Geteuid() == 0 {
		// t.TempDir makes private (0700) directories; the server runs unprivileged and
		// must be able to enter them, as it can enter a checkout's .foresight/pg.
		for d := filepath.Dir(dir); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			require.NoError(t, os.Chmod(d, 0o755))
		}
	}
	ctx := context.Background()

	first, stop1, err := f.ensure(ctx, dir, quietLog())
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop1() })
	require.Contains(t, first, "/"+DatabaseName+"?")
	require.Equal(t, DatabaseName, queryOne(t, first, "SELECT current_database()"))
	require.FileExists(t, filepath.Join(dir, "data", "PG_VERSION"))
	conn, err := pgx.Connect(ctx, first)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	// A second process while the first one's server still runs adopts it.
	adopted, _, err := f.ensure(ctx, dir, quietLog())
	require.NoError(t, err)
	require.Equal(t, first, adopted)

	require.NoError(t, stop1())
	require.NoError(t, stop1(), "stop is idempotent")
	_, err = pgx.Connect(ctx, first)
	require.Error(t, err, "the server still answers after stop")

	again, stop2, err := f.ensure(ctx, dir, quietLog())
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop2() })
	require.Equal(t, "still here", queryOne(t, again, "SELECT v FROM kept"))
	require.NoError(t, stop2())
}
