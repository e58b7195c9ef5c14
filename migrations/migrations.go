// Package migrations holds Foresight's Postgres schema as golang-migrate SQL files (up and
// down), embedded so every binary can apply them at start.
package migrations

import "embed"

// FS contains the NNNN_name.up.sql / NNNN_name.down.sql files.
//
//go:embed *.sql
var FS embed.FS
