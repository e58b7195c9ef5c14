// Package testenv gives tests real infrastructure: a fresh, migrated Postgres database per
// test and an embedded JetStream server. Nothing here is a mock.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/natsembed"
	"github.com/foresight-run/foresight/pkg/pgdb"
)

// DefaultDatabaseURL is used when TEST_DATABASE_URL is unset: the machine's local server.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the URL tests create their databases through.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// Database creates an empty database with a unique name, applies the migrations, and drops
// it when the test ends. It returns the database's URL and a pool on it. Tests are skipped
// under -short; otherwise an unreachable server fails the test, it never silently passes.
func Database(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Postgres; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL (%s): %v", AdminURL(), err)
	}
	defer admin.Close(ctx)
	name := "foresight_test_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	url := withDatabase(t, AdminURL(), name)
	if err := pgdb.Migrate(url); err != nil {
		t.Fatalf("migrate %s: %v", name, err)
	}
	pool, err := pgdb.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Logf("drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return url, pool
}

func withDatabase(t testing.TB, url, name string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// JetStream starts an embedded JetStream server on a free port with its store in a temp
// dir, and returns its URL and a connected client. Both stop when the test ends.
func JetStream(t testing.TB) (string, *server.Server, jetstream.JetStream) {
	t.Helper()
	s, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start embedded nats: %v", err)
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return s.ClientURL(), s, js
}

// Outboxed returns the payloads of every event of T's type in the outbox, in the order
// they were written: what a handler under test announced.
func Outboxed[T any, PT interface {
	*T
	events.Payload
}](t testing.TB, pool *pgxpool.Pool) []T {
	t.Helper()
	var zero T
	rows, err := pool.Query(context.Background(), `SELECT payload FROM outbox WHERE type = $1 ORDER BY seq`, string(PT(&zero).EventType()))
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	out := make([]T, 0, len(raws))
	for _, raw := range raws {
		env, err := events.Decode(raw)
		if err != nil {
			t.Fatalf("outbox envelope: %v", err)
		}
		v, err := events.DecodeData[T, PT](env)
		if err != nil {
			t.Fatalf("outbox payload: %v", err)
		}
		out = append(out, v)
	}
	return out
}
