// Package pgdb opens Foresight's Postgres pool and applies the embedded migrations.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foresight-run/foresight/migrations"
)

// Open connects a pool to url and checks the connection.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// Migrate applies every pending up migration. Concurrent callers are serialised by
// golang-migrate's advisory lock, so every service may call it at start.
func Migrate(url string) error {
	return withMigrator(url, "up", (*migrate.Migrate).Up)
}

// MigrateDown reverts every migration. It exists for tests that prove each migration can
// be undone; operators use the migrate CLI.
func MigrateDown(url string) error {
	return withMigrator(url, "down", (*migrate.Migrate).Down)
}

// withMigrator runs one golang-migrate operation over the embedded migrations.
func withMigrator(url, name string, op func(*migrate.Migrate) error) error {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("open migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, migrateURL(url))
	if err != nil {
		return fmt.Errorf("connect migrate: %w", err)
	}
	defer m.Close()
	if err := op(m); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	return nil
}

// migrateURL rewrites a postgres:// URL to the pgx5:// scheme golang-migrate's pgx/v5
// driver registers.
func migrateURL(url string) string {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if strings.HasPrefix(url, p) {
			return "pgx5://" + strings.TrimPrefix(url, p)
		}
	}
	return url
}
