package bus

import (
	"context"
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

// Handler does the work for one delivered event. It must be idempotent: the bus may run it
// again for the same event after a crash.
type Handler func(ctx context.Context, env events.Envelope) error

// TxHandler does its effect inside tx; the inbox row is inserted in the same transaction.
type TxHandler func(ctx context.Context, tx pgx.Tx, env events.Envelope) error

// BatchHandler does the work for several delivered events at once, all or nothing. Like
// Handler it must be idempotent for each event.
type BatchHandler func(ctx context.Context, envs []events.Envelope) error

// Subscription describes one durable consumer: one event type, one handler.
type Subscription struct {
	// Durable is the consumer name, unique per service and event type
	// ("allocator-task-observed"). Replicas of a service share it.
	Durable string
	Type    events.Type
	Handler Handler
	// AckWait must exceed the slowest handler between heartbeats; the bus sends InProgress
	// every AckWait/3 while a handler runs.
	AckWait time.Duration
	// MaxDeliver bounds redeliveries; the last failure goes to dead_letters.
	MaxDeliver int
	// BackOff lists the NAK delays for successive transient failures.
	BackOff []time.Duration
	// Concurrency is how many messages (or batches) are handled at once (MaxAckPending
	// is 4× it, or BatchSize × it when larger).
	Concurrency int
	// Batch, when set, takes up to BatchSize messages that are already waiting (it never
	// waits for more) and handles them in one call: one transaction instead of one per
	// event, for a consumer whose handler is cheap next to a commit. A batch that fails
	// is handled again one message at a time with Handler, so a poison message is
	// retried and dead-lettered alone; Handler is still required.
	Batch     BatchHandler
	BatchSize int
}

func (s Subscription) withDefaults() Subscription {
	if s.AckWait <= 0 {
		s.AckWait = 30 * time.Second
	}
	if s.MaxDeliver <= 0 {
		s.MaxDeliver = 10
	}
	if len(s.BackOff) == 0 {
		s.BackOff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second, 15 * time.Second}
	}
	if s.Concurrency <= 0 {
		s.Concurrency = 1
	}
	if s.Batch == nil || s.BatchSize < 1 {
		s.BatchSize = 1
	}
	return s
}

// Consumer runs subscriptions against one stream until stopped.
type Consumer struct {
	js     jetstream.JetStream
	pool   *pgxpool.Pool
	stream string
	log    *slog.Logger

	mu      sync.Mutex
	stops   []func()
	cancels []context.CancelFunc
	wg      sync.WaitGroup
	stopped bool
	// Grace is how long Stop lets in-flight handlers finish before cancelling them, which
	// makes them hand their messages back.
	Grace time.Duration
}

// NewConsumer returns a Consumer on stream; pool receives dead letters.
func NewConsumer(js jetstream.JetStream, pool *pgxpool.Pool, stream string, log *slog.Logger) *Consumer {
	return &Consumer{js: js, pool: pool, stream: stream, log: log, Grace: 10 * time.Second}
}

// Subscribe creates (or updates) the durable consumer and starts handling its messages.
func (c *Consumer) Subscribe(ctx context.Context, sub Subscription) error {
	sub = sub.withDefaults()
	cons, err := c.js.CreateOrUpdateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
		Durable:       sub.Durable,
		FilterSubject: events.FilterSubject(sub.Type),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       sub.AckWait,
		MaxDeliver:    sub.MaxDeliver,
		MaxAckPending: max(4, sub.BatchSize) * sub.Concurrency,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", sub.Durable, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(max(2, sub.BatchSize) * sub.Concurrency))
	if err != nil {
		return fmt.Errorf("consume %s: %w", sub.Durable, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		cancel()
		iter.Stop()
		return errors.New("consumer stopped")
	}
	c.stops = append(c.stops, iter.Stop)
	c.cancels = append(c.cancels, cancel)
	c.mu.Unlock()

	sem := make(chan struct{}, sub.Concurrency)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for {
			msg, err := iter.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				c.log.Warn("next message", "consumer", sub.Durable, "err", err)
				continue
			}
			batch := []jetstream.Msg{msg}
			for len(batch) < sub.BatchSize {
				// Only what has already arrived: a batch never waits for company.
				m, err := iter.Next(jetstream.NextMaxWait(time.Millisecond))
				if err != nil {
					break
				}
				batch = append(batch, m)
			}
			sem <- struct{}{}
			inflight.Add(1)
			go func() {
				defer func() { <-sem; inflight.Done() }()
				if len(batch) == 1 {
					c.handle(runCtx, sub, batch[0])
					return
				}
				c.handleBatch(runCtx, sub, batch)
			}()
		}
	}()
	return nil
}

// Stop stops fetching and lets in-flight handlers finish for up to Grace; handlers still
// running then are cancelled and NAK their messages, handing them back. Messages fetched
// but not started are redelivered by JetStream. Idempotent.
func (c *Consumer) Stop() {
	c.mu.Lock()
	stops, cancels := c.stops, c.cancels
	c.stops, c.cancels = nil, nil
	c.stopped = true
	c.mu.Unlock()
	for _, s := range stops {
		s()
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(c.Grace):
	}
	for _, cancel := range cancels {
		cancel()
	}
	<-done
}

func (c *Consumer) handle(ctx context.Context, sub Subscription, msg jetstream.Msg) {
	meta, _ := msg.Metadata()
	delivered := 1
	if meta != nil {
		delivered = int(meta.NumDelivered)
	}
	env, err := events.Decode(msg.Data())
	if err != nil {
		c.deadLetter(ctx, sub, msg, "", fmt.Sprintf("undecodable: %v", err))
		return
	}
	log := c.log.With("consumer", sub.Durable, "event_id", env.ID, "workflow_id", env.Subject)

	stopHB := heartbeat(ctx, sub.AckWait/3, msg)
	err = sub.Handler(ctx, env)
	stopHB()

	switch {
	case err == nil:
		ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := msg.DoubleAck(ackCtx); err != nil {
			// The effect is committed; a redelivery will hit the inbox and be acked.
			log.Warn("ack", "err", err)
		}
	case errors.Is(err, ErrPermanent) || delivered >= sub.MaxDeliver:
		log.Error("handler failed permanently", "err", err, "delivered", delivered)
		c.deadLetter(ctx, sub, msg, env.ID, err.Error())
	case ctx.Err() != nil:
		// Shutting down: hand the message back at once.
		_ = msg.Nak()
	default:
		delay := sub.BackOff[min(delivered-1, len(sub.BackOff)-1)]
		log.Warn("handler failed; will retry", "err", err, "delivered", delivered, "delay", delay)
		_ = msg.NakWithDelay(delay)
	}
}

// handleBatch runs sub.Batch on msgs and acks them all after it succeeds. An undecodable
// message is dead-lettered on its own; when the batch fails, each message is handled
// alone (handle), with its own retries, back-off and dead letter.
func (c *Consumer) handleBatch(ctx context.Context, sub Subscription, msgs []jetstream.Msg) {
	envs := make([]events.Envelope, 0, len(msgs))
	ok := make([]jetstream.Msg, 0, len(msgs))
	for _, msg := range msgs {
		env, err := events.Decode(msg.Data())
		if err != nil {
			c.deadLetter(ctx, sub, msg, "", fmt.Sprintf("undecodable: %v", err))
			continue
		}
		envs, ok = append(envs, env), append(ok, msg)
	}
	if len(ok) == 0 {
		return
	}
	stopHB := heartbeat(ctx, sub.AckWait/3, ok...)
	err := sub.Batch(ctx, envs)
	stopHB()
	switch {
	case err == nil:
		ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, msg := range ok {
			if err := msg.DoubleAck(ackCtx); err != nil {
				// The effect is committed; a redelivery is idempotent.
				c.log.Warn("ack", "consumer", sub.Durable, "err", err)
			}
		}
	case ctx.Err() != nil:
		for _, msg := range ok {
			_ = msg.Nak()
		}
	default:
		c.log.Warn("batch failed; handling its messages one by one", "consumer", sub.Durable, "size", len(ok), "err", err)
		for _, msg := range ok {
			c.handle(ctx, sub, msg)
		}
	}
}

// heartbeat tells JetStream every interval that msgs are still being worked on, so a
// long handler keeps them, until the returned stop is called.
func heartbeat(ctx context.Context, every time.Duration, msgs ...jetstream.Msg) (stop func()) {
	hbCtx, stop := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				for _, msg := range msgs {
					_ = msg.InProgress()
				}
			}
		}
	}()
	return stop
}

func (c *Consumer) deadLetter(ctx context.Context, sub Subscription, msg jetstream.Msg, eventID, reason string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if eventID == "" {
		eventID = "unknown"
	}
	if _, err := c.pool.Exec(ctx,
		`INSERT INTO dead_letters (consumer, event_id, subject, payload, reason) VALUES ($1, $2, $3, $4, $5)`,
		sub.Durable, eventID, msg.Subject(), msg.Data(), reason); err != nil {
		// Without the row the message must not disappear: let JetStream redeliver it.
		c.log.Error("record dead letter", "consumer", sub.Durable, "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	_ = msg.TermWithReason(truncate(reason, 200))
}

// Transactional adapts a TxHandler: it opens a transaction, inserts the event into the
// consumer's inbox, runs fn, and commits. A duplicate delivery commits nothing and
// succeeds.
func Transactional(pool *pgxpool.Pool, consumer string, fn TxHandler) Handler {
	return func(ctx context.Context, env events.Envelope) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			fresh, err := MarkProcessed(ctx, tx, consumer, env.ID)
			if err != nil || !fresh {
				return err
			}
			return fn(ctx, tx, env)
		})
	}
}

// MarkProcessed inserts (consumer, eventID) into the inbox and reports whether it was new.
func MarkProcessed(ctx context.Context, tx pgx.Tx, consumer, eventID string) (bool, error) {
	tag, err := tx.Exec(ctx,
		`INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		consumer, eventID)
	if err != nil {
		return false, fmt.Errorf("inbox insert: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Decode is a helper for handlers: it decodes the envelope's data into T, wrapping decode
// errors as permanent (a malformed event will never decode on retry).
func Decode[T any, PT interface {
	*T
	events.Payload
}](env events.Envelope) (T, error) {
	v, err := events.DecodeData[T, PT](env)
	if err != nil {
		return v, Permanent(err)
	}
	return v, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
