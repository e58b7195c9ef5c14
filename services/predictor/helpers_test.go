package predictor

import (
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/pkg/testenv"
)

// newTestService is a predictor on its own test database and the virtual clock clk.
func newTestService(t *testing.T, clk *clock.Virtual, opts Options) (*Service, *pgxpool.Pool) {
	t.Helper()
	_, pool := testenv.Database(t)
	return New(&service.Runtime{Pool: pool, Clock: clk, Log: slog.New(slog.DiscardHandler)}, opts), pool
}
