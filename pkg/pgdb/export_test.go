package pgdb

import "github.com/golang-migrate/migrate/v4"

// MigrateTo moves the schema to version, for tests that write state in an older schema
// and check what a later migration makes of it.
func MigrateTo(url string, version uint) error {
	return withMigrator(url, "to version", func(m *migrate.Migrate) error { return m.Migrate(version) })
}
