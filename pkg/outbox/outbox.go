// Package outbox makes "change state and announce it" atomic: events are written to the
// outbox table in the same transaction as the state change, and a Relay publishes them to
// JetStream afterwards, marking each row only once the stream acknowledged it. A crash
// between commit and publish loses nothing; a crash between publish and mark re-publishes
// with the same Nats-Msg-Id, which the stream's duplicate window drops.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/foresight-run/foresight/pkg/events"
)

// Channel is the Postgres NOTIFY channel that wakes relays when rows are added.
const Channel = "foresight_outbox"

// ErrTooLarge reports an event larger than the bus carries (events.MaxEnvelopeBytes).
var ErrTooLarge = errors.New("event larger than the bus carries")

// Add writes env to the outbox within tx. Adding the same envelope id twice is a no-op, so
// handlers that derive ids from their input stay idempotent. An event the bus could never
// carry is refused here, with ErrTooLarge, rather than left to fail at every publish.
func Add(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	raw, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode %s: %w", env.Type, err)
	}
	if len(raw) > events.MaxEnvelopeBytes {
		return fmt.Errorf("%w: %s is %d bytes, the limit %d", ErrTooLarge, env.Type, len(raw), events.MaxEnvelopeBytes)
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO outbox (id, subject, type, payload) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
		env.ID, env.NATSSubject(), string(env.Type), raw); err != nil {
		return fmt.Errorf("outbox insert %s: %w", env.Type, err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, Channel); err != nil {
		return fmt.Errorf("outbox notify: %w", err)
	}
	return nil
}

// Emit builds an envelope for payload and adds it to the outbox.
func Emit(ctx context.Context, tx pgx.Tx, id, source, workflowID string, at time.Time, payload events.Payload) error {
	env, err := events.NewWithID(id, source, workflowID, at, payload)
	if err != nil {
		return err
	}
	return Add(ctx, tx, env)
}

// Relay publishes outbox rows in order.
type Relay struct {
	pool  *pgxpool.Pool
	js    jetstream.JetStream
	log   *slog.Logger
	batch int
	// poll is the fallback interval when no notification arrives.
	poll time.Duration

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewRelay returns a relay; several relays (one per process) may share the table.
func NewRelay(pool *pgxpool.Pool, js jetstream.JetStream, log *slog.Logger) *Relay {
	return &Relay{pool: pool, js: js, log: log, batch: 256, poll: 500 * time.Millisecond}
}

// Start runs the relay until Stop.
func (r *Relay) Start(ctx context.Context) error {
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.done = make(chan struct{})
	wake := make(chan struct{}, 1)
	go r.listen(ctx, wake)
	go func() {
		defer close(r.done)
		for {
			n, err := r.PublishBatch(ctx)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("outbox relay", "err", err)
			}
			if n == r.batch {
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-time.After(r.poll):
			}
		}
	}()
	return nil
}

// Stop ends the relay after its current batch. Idempotent.
func (r *Relay) Stop() {
	r.stopOnce.Do(func() {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		}
	})
}

func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		conn, err := r.pool.Acquire(ctx)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if _, err := conn.Exec(ctx, "LISTEN "+Channel); err == nil {
			for ctx.Err() == nil {
				if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
					break
				}
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
		// Do not return a connection in LISTEN state to the pool.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}
}

// PublishBatch publishes up to one batch of unpublished rows and marks them. It returns the
// number of rows it published.
func (r *Relay) PublishBatch(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx,
		`SELECT seq, id::text, subject, payload FROM outbox WHERE published_at IS NULL
		 ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, r.batch)
	if err != nil {
		return 0, fmt.Errorf("select outbox: %w", err)
	}
	type row struct {
		seq         int64
		id, subject string
		payload     []byte
	}
	var batch []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.seq, &x.id, &x.subject, &x.payload); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan outbox: %w", err)
		}
		batch = append(batch, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(batch) == 0 {
		return 0, nil
	}
	// Publish asynchronously with bounded in-flight acks, then wait for all of them.
	// A row the client refuses at once (one larger than the server's max_payload, say)
	// stays unpublished and is retried, and the rows after it still go out.
	futures := make([]jetstream.PubAckFuture, len(batch))
	for i, x := range batch {
		f, err := r.js.PublishAsync(x.subject, x.payload, jetstream.WithMsgID(x.id))
		if err != nil {
			r.log.Error("publish refused; will retry", "event_id", x.id, "bytes", len(x.payload), "err", err)
			continue
		}
		futures[i] = f
	}
	seqs := make([]int64, 0, len(batch))
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			seqs = append(seqs, batch[i].seq)
		case err := <-f.Err():
			r.log.Warn("publish failed; will retry", "event_id", batch[i].id, "err", err)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Second):
			r.log.Warn("publish ack timeout; will retry", "event_id", batch[i].id)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE seq = ANY($1)`, seqs); err != nil {
		return 0, fmt.Errorf("mark published: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit outbox: %w", err)
	}
	return len(seqs), nil
}
