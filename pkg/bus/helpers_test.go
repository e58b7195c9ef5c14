package bus_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/testenv"
)

func encode(env events.Envelope) ([]byte, error) { return json.Marshal(env) }

// newBus is a test's own database and JetStream server, with the stream created.
func newBus(ctx context.Context, t *testing.T) (*pgxpool.Pool, jetstream.JetStream, *slog.Logger) {
	t.Helper()
	_, pool := testenv.Database(t)
	_, _, js := testenv.JetStream(t)
	_, err := bus.EnsureStream(ctx, js, bus.DefaultStream())
	require.NoError(t, err)
	return pool, js, slog.New(slog.DiscardHandler)
}
