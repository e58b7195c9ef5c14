// Package bus connects Foresight's services to NATS JetStream: it creates the stream and
// durable pull consumers idempotently, and runs handlers with effectively-once semantics.
//
// JetStream delivers at least once. A Transactional handler records the event id in the
// processed_events inbox in the same Postgres transaction as its effect, so a redelivery
// finds the id and is acked without running again. Messages are acked only after the commit
// (DoubleAck). Transient failures are NAKed with a growing delay; permanent ones (wrapped
// with Permanent, or undecodable) are terminated and recorded in dead_letters.
package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/foresight-run/foresight/pkg/events"
)

// StreamConfig is the one stream every Foresight event lives in.
type StreamConfig struct {
	Name string
	// Replicas is 1 in dev and tests, 3 in production clusters.
	Replicas int
	// Duplicates is the Nats-Msg-Id de-duplication window.
	Duplicates time.Duration
	MaxAge     time.Duration
	MaxMsgSize int32
}

// DefaultStream is the stream configuration with the documented defaults.
func DefaultStream() StreamConfig {
	return StreamConfig{
		Name:       "FORESIGHT",
		Replicas:   1,
		Duplicates: 2 * time.Minute,
		MaxAge:     7 * 24 * time.Hour,
		MaxMsgSize: events.MaxEnvelopeBytes,
	}
}

// EnsureStream creates the stream or updates it to cfg. It is safe to call from every
// service at start.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Name,
		Subjects:   []string{events.SubjectPrefix + ">"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Replicas:   max(cfg.Replicas, 1),
		Duplicates: cfg.Duplicates,
		MaxAge:     cfg.MaxAge,
		MaxMsgSize: cfg.MaxMsgSize,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// Publisher is the slice of jetstream.JetStream that publishing needs.
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Publish sends an envelope with its id as Nats-Msg-Id and waits for the stream's ack.
func Publish(ctx context.Context, p Publisher, env events.Envelope, raw []byte) error {
	if _, err := p.Publish(ctx, env.NATSSubject(), raw, jetstream.WithMsgID(env.ID)); err != nil {
		return fmt.Errorf("publish %s %s: %w", env.Type, env.ID, err)
	}
	return nil
}

// ErrPermanent marks a failure that retrying cannot fix.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so the bus terminates the message instead of retrying it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}
