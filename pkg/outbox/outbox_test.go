package outbox_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/testenv"
)

func envelope(t *testing.T, id, name string) events.Envelope {
	t.Helper()
	env, err := events.NewWithID(id, "test", "00000000-0000-0000-0000-000000000001", time.Unix(0, 0),
		events.WorkflowSubmitted{WorkflowID: "00000000-0000-0000-0000-000000000001", Name: name})
	require.NoError(t, err)
	return env
}

// An event the bus could never carry is refused when it is written, and nothing of it is
// stored.
func TestAddRefusesAnEventTooLargeForTheBus(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Database(t)
	ctx := context.Background()
	big := envelope(t, "00000000-0000-0000-0000-0000000000b1", strings.Repeat("x", events.MaxEnvelopeBytes))
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, big) })
	require.ErrorIs(t, err, outbox.ErrTooLarge)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n))
	require.Zero(t, n)
}

// A row the server refuses (here one written past Add's check) stays unpublished, and the
// rows after it are published all the same: one bad event must not stall every workflow.
func TestRelayPublishesPastARowTheServerRefuses(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Database(t)
	_, _, js := testenv.JetStream(t)
	ctx := context.Background()
	stream, err := bus.EnsureStream(ctx, js, bus.DefaultStream())
	require.NoError(t, err)

	big := envelope(t, "00000000-0000-0000-0000-0000000000b2", strings.Repeat("x", events.MaxEnvelopeBytes))
	small := envelope(t, "00000000-0000-0000-0000-0000000000b3", "small")
	_, err = pool.Exec(ctx, `INSERT INTO outbox (id, subject, type, payload) VALUES ($1, $2, $3, convert_to($4, 'UTF8'))`,
		big.ID, big.NATSSubject(), string(big.Type), `{"data":"`+strings.Repeat("x", events.MaxEnvelopeBytes)+`"}`)
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, small) }))

	r := outbox.NewRelay(pool, js, slog.New(slog.DiscardHandler))
	n, err := r.PublishBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs)
	var pending []string
	rows, err := pool.Query(ctx, `SELECT id::text FROM outbox WHERE published_at IS NULL`)
	require.NoError(t, err)
	pending, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{big.ID}, pending)
}
