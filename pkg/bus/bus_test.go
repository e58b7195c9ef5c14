package bus_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
)

// TestOutboxToInboxEffectivelyOnce runs the real path: an event committed to the outbox is
// published by the relay, consumed by a transactional handler, and a forced re-publish of
// the same event (same id) has no second effect.
func TestOutboxToInboxEffectivelyOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, js, log := newBus(ctx, t)
	relay := outbox.NewRelay(pool, js, log)
	require.NoError(t, relay.Start(ctx))
	t.Cleanup(relay.Stop)

	var effects atomic.Int32
	cons := bus.NewConsumer(js, pool, "FORESIGHT", log)
	t.Cleanup(cons.Stop)
	require.NoError(t, cons.Subscribe(ctx, bus.Subscription{
		Durable: "test-completed", Type: events.TypeWorkflowCompleted, AckWait: 5 * time.Second,
		Handler: bus.Transactional(pool, "test-completed", func(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
			effects.Add(1)
			_, err := tx.Exec(ctx, `INSERT INTO dead_letters (consumer, event_id, subject, payload, reason) VALUES ('effect', $1, '', '', 'marker')`, env.ID)
			return err
		}),
	}))

	env, err := events.New("test", "wf-1", time.Now(), events.WorkflowCompleted{WorkflowID: "wf-1", Status: events.WorkflowSucceeded})
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, env) }))

	require.Eventually(t, func() bool { return effects.Load() == 1 }, 20*time.Second, 20*time.Millisecond)

	// Re-publish outside the dedupe window's protection by using a fresh message id header
	// but the same envelope id: the inbox, not the stream, must stop the second effect.
	raw, err := pool.Query(ctx, `SELECT payload FROM outbox WHERE id = $1`, env.ID)
	require.NoError(t, err)
	payload, err := pgx.CollectExactlyOneRow(raw, pgx.RowTo[[]byte])
	require.NoError(t, err)
	_, err = js.Publish(ctx, env.NATSSubject(), payload)
	require.NoError(t, err)

	var markers int
	require.Eventually(t, func() bool {
		info, err := js.Consumer(ctx, "FORESIGHT", "test-completed")
		require.NoError(t, err)
		ci, err := info.Info(ctx)
		require.NoError(t, err)
		return ci.AckFloor.Stream == 2 && ci.NumAckPending == 0
	}, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE consumer = 'effect'`).Scan(&markers))
	require.Equal(t, 1, markers, "the duplicate delivery must not repeat the effect")

	var published int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NOT NULL`).Scan(&published))
	require.Equal(t, 1, published)
}

// TestPermanentFailureGoesToDeadLetters checks a handler that cannot succeed is terminated
// and recorded, not retried forever.
func TestPermanentFailureGoesToDeadLetters(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, js, log := newBus(ctx, t)

	var calls atomic.Int32
	cons := bus.NewConsumer(js, pool, "FORESIGHT", log)
	t.Cleanup(cons.Stop)
	require.NoError(t, cons.Subscribe(ctx, bus.Subscription{
		Durable: "test-perm", Type: events.TypeReplanRequested, AckWait: 5 * time.Second,
		Handler: func(ctx context.Context, env events.Envelope) error {
			calls.Add(1)
			return bus.Permanent(context.DeadlineExceeded)
		},
	}))
	env, err := events.New("test", "wf-2", time.Now(), events.ReplanRequested{WorkflowID: "wf-2", Reason: "test"})
	require.NoError(t, err)
	raw, err := encode(env)
	require.NoError(t, err)
	require.NoError(t, bus.Publish(ctx, js, env, raw))

	require.Eventually(t, func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE consumer = 'test-perm'`).Scan(&n)
		return n == 1
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, int32(1), calls.Load())
}

// TestBatchesFallBackToSingleMessages publishes a backlog with one poison event in it. The
// consumer takes the waiting events in batches (more than one per call); the batch holding
// the poison fails as a whole and its events are handled one by one, so every good event
// takes effect exactly once and only the poison goes to dead_letters.
func TestBatchesFallBackToSingleMessages(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, js, log := newBus(ctx, t)

	const n = 40
	poison := ""
	for i := range n {
		reason := "ok"
		if i == 17 {
			reason = "poison"
		}
		env, err := events.New("test", "wf-batch", time.Now(), events.ReplanRequested{WorkflowID: "wf-batch", Reason: reason})
		require.NoError(t, err)
		if reason == "poison" {
			poison = env.ID
		}
		raw, err := encode(env)
		require.NoError(t, err)
		require.NoError(t, bus.Publish(ctx, js, env, raw))
	}

	effect := func(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
		r, err := bus.Decode[events.ReplanRequested](env)
		if err != nil {
			return err
		}
		if r.Reason == "poison" {
			return bus.Permanent(errors.New("poison"))
		}
		_, err = tx.Exec(ctx, `INSERT INTO dead_letters (consumer, event_id, subject, payload, reason) VALUES ('effect', $1, '', '', 'marker')
			ON CONFLICT DO NOTHING`, env.ID)
		return err
	}
	var batches, largest atomic.Int32
	cons := bus.NewConsumer(js, pool, "FORESIGHT", log)
	t.Cleanup(cons.Stop)
	require.NoError(t, cons.Subscribe(ctx, bus.Subscription{
		Durable: "test-batch", Type: events.TypeReplanRequested, AckWait: 5 * time.Second, MaxDeliver: 2,
		Handler:   bus.Transactional(pool, "test-batch", effect),
		BatchSize: 16,
		Batch: func(ctx context.Context, envs []events.Envelope) error {
			batches.Add(1)
			if int32(len(envs)) > largest.Load() {
				largest.Store(int32(len(envs)))
			}
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				for _, env := range envs {
					if err := effect(ctx, tx, env); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}))

	require.Eventually(t, func() bool {
		var done, dead int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE consumer = 'effect'`).Scan(&done)
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE consumer = 'test-batch'`).Scan(&dead)
		return done == n-1 && dead == 1
	}, 20*time.Second, 20*time.Millisecond)
	var deadID string
	require.NoError(t, pool.QueryRow(ctx, `SELECT event_id FROM dead_letters WHERE consumer = 'test-batch'`).Scan(&deadID))
	require.Equal(t, poison, deadID)
	require.Greater(t, largest.Load(), int32(1), "a backlog is taken in batches")
	require.Less(t, batches.Load(), int32(n), "fewer calls than events")
}
