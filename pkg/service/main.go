package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Factory builds a service's component on a runtime.
type Factory func(ctx context.Context, rt *Runtime) (Component, error)

// Main runs one service as its own process: load config, open the runtime, start the
// component and the health server, wait for SIGINT/SIGTERM, then tear down in order
// (health server, component, runtime) within the shutdown deadline. It returns the exit
// code.
func Main(name string, build Factory) int {
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "foresight %s: %v\n", name, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("service", name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rt, err := Open(ctx, cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	comp, err := build(ctx, rt)
	if err != nil {
		log.Error("build", "err", err)
		rt.Close()
		return 1
	}
	health := &HTTPServer{Log: log, Server: &http.Server{Addr: cfg.HTTPAddr, Handler: HealthHandler(rt.Ready), ReadHeaderTimeout: 5 * time.Second}}
	if h, ok := comp.(interface{ Handler() http.Handler }); ok {
		// A service with its own API (the gateway) serves health under the same listener.
		health.Server.Handler = h.Handler()
	}
	if err := comp.Start(ctx); err != nil {
		log.Error("start component", "err", err)
		rt.Close()
		return 1
	}
	_ = health.Start(ctx)
	log.Info("started", "http", cfg.HTTPAddr)
	<-ctx.Done()
	log.Info("shutting down")
	return Shutdown(log, cfg.ShutdownTimeout, health, comp, rt)
}

// Shutdown stops components in the given order, then closes the runtime, giving up after
// timeout. It returns 0 on a clean stop and 1 when the deadline passed.
func Shutdown(log *slog.Logger, timeout time.Duration, comps ...interface{ Stop() }) int {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, c := range comps {
			c.Stop()
		}
	}()
	select {
	case <-done:
		log.Info("stopped")
		return 0
	case <-time.After(timeout):
		log.Error("shutdown deadline passed", "timeout", timeout)
		return 1
	}
}

// Stop makes Runtime usable in Shutdown's list.
func (rt *Runtime) Stop() { rt.Close() }
