package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/pgdb"
)

// Component is anything with a lifecycle: Start returns once it is running; Stop is
// idempotent and returns once it has stopped.
type Component interface {
	Start(ctx context.Context) error
	Stop()
}

// Runtime is what a service's shell needs from the outside world. One Runtime serves one
// service in its own process, or all six in the dev all-in-one process.
type Runtime struct {
	Config   Config
	Log      *slog.Logger
	Clock    clock.Clock
	Pool     *pgxpool.Pool
	NATS     *nats.Conn
	JS       jetstream.JetStream
	Stream   string
	Consumer *bus.Consumer
	Relay    *outbox.Relay
}

// Open migrates the database, connects to Postgres and NATS, ensures the stream, and
// starts the outbox relay. Close releases everything in reverse order.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Runtime, error) {
	if err := pgdb.Migrate(cfg.DatabaseURL); err != nil {
		return nil, err
	}
	pool, err := pgdb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("foresight"), nats.MaxReconnects(-1))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect nats %s: %w", cfg.NATSURL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		nc.Close()
		pool.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	sc := bus.DefaultStream()
	sc.Replicas = cfg.StreamReplicas
	if _, err := bus.EnsureStream(ctx, js, sc); err != nil {
		nc.Close()
		pool.Close()
		return nil, err
	}
	rt := &Runtime{
		Config: cfg, Log: log, Clock: clock.Real{}, Pool: pool, NATS: nc, JS: js, Stream: sc.Name,
		Consumer: bus.NewConsumer(js, pool, sc.Name, log),
		Relay:    outbox.NewRelay(pool, js, log),
	}
	if err := rt.Relay.Start(ctx); err != nil {
		rt.Close()
		return nil, err
	}
	return rt, nil
}

// Subscribe registers a subscription with the service's default AckWait.
func (rt *Runtime) Subscribe(ctx context.Context, sub bus.Subscription) error {
	if sub.AckWait == 0 {
		sub.AckWait = rt.Config.AckWait
	}
	return rt.Consumer.Subscribe(ctx, sub)
}

// Close stops consuming (in-flight handlers finish or hand their messages back), lets the
// relay publish what was committed, then closes NATS and Postgres.
func (rt *Runtime) Close() {
	rt.Consumer.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, _ = rt.Relay.PublishBatch(ctx)
	cancel()
	rt.Relay.Stop()
	_ = rt.NATS.Drain()
	rt.Pool.Close()
}

// Ready reports whether Postgres and NATS are reachable.
func (rt *Runtime) Ready(ctx context.Context) error {
	if err := rt.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if !rt.NATS.IsConnected() {
		return errors.New("nats: not connected")
	}
	return nil
}

// HealthHandler serves /healthz (the process is alive) and /readyz (its dependencies
// answer). Extra routes may be mounted on the returned mux.
func HealthHandler(ready func(context.Context) error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(err.Error() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// HTTPServer runs an http.Server as a Component.
type HTTPServer struct {
	Server *http.Server
	Log    *slog.Logger
	once   sync.Once
	errc   chan error
}

// Start listens in the background; a listen error is logged.
func (h *HTTPServer) Start(ctx context.Context) error {
	h.errc = make(chan error, 1)
	go func() {
		err := h.Server.ListenAndServe()
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.Log.Error("http server", "addr", h.Server.Addr, "err", err)
		}
		h.errc <- err
	}()
	return nil
}

// Stop shuts the server down gracefully, waiting up to 5 s for requests.
func (h *HTTPServer) Stop() {
	h.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Server.Shutdown(ctx)
	})
}

// TxSub is one transactional subscription of a service.
type TxSub struct {
	// Durable names both the JetStream consumer and the handler's inbox.
	Durable     string
	Type        events.Type
	Concurrency int
	Handler     bus.TxHandler
}

// SubscribeAll subscribes every TxSub, stopping at the first error.
func (rt *Runtime) SubscribeAll(ctx context.Context, subs ...TxSub) error {
	for _, s := range subs {
		if err := rt.SubscribeTx(ctx, s.Durable, s.Type, s.Concurrency, s.Handler); err != nil {
			return err
		}
	}
	return nil
}

// SubscribeTx subscribes a transactional handler: durable names both the JetStream
// consumer and the inbox the handler's effects are de-duplicated in.
func (rt *Runtime) SubscribeTx(ctx context.Context, durable string, t events.Type, concurrency int, fn bus.TxHandler) error {
	return rt.Subscribe(ctx, bus.Subscription{Durable: durable, Type: t, Concurrency: concurrency,
		Handler: bus.Transactional(rt.Pool, durable, fn)})
}
