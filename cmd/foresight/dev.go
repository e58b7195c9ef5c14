package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/foresight-run/foresight/pkg/devpg"
	"github.com/foresight-run/foresight/pkg/natsembed"
	"github.com/foresight-run/foresight/pkg/service"
)

// runDev runs all six services in one process on an embedded JetStream server and a local
// Postgres (FORESIGHT_DATABASE_URL, else the server on localhost:5432, else a throwaway
// cluster under --dir). With --example it submits that workflow through the gateway,
// prints progress, and exits when it finishes (unless --serve).
func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "gateway listen address")
	dir := fs.String("dir", ".foresight", "state directory (embedded NATS store, throwaway Postgres, task work dirs)")
	example := fs.String("example", "", "workflow file or directory (containing workflow.yaml) to submit once running")
	serve := fs.Bool("serve", false, "keep serving after the example finishes")
	natsPort := fs.Int("nats-port", -1, "embedded NATS client port (-1: any free port)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(os.Getenv("FORESIGHT_LOG_LEVEL")))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dbURL, stopPG, err := devpg.Ensure(ctx, filepath.Join(*dir, "pg"), log)
	if err != nil {
		fmt.Fprintf(stderr, "foresight dev: %v\n", err)
		return 1
	}
	defer func() { _ = stopPG() }()
	ns, err := natsembed.Start(natsembed.Config{Port: *natsPort, StoreDir: filepath.Join(*dir, "nats")})
	if err != nil {
		fmt.Fprintf(stderr, "foresight dev: %v\n", err)
		return 1
	}
	defer ns.Shutdown()

	cfg, err := service.LoadConfig(func(k string) string {
		switch k {
		case "FORESIGHT_DATABASE_URL":
			return dbURL
		case "FORESIGHT_NATS_URL":
			return ns.ClientURL()
		case "FORESIGHT_WORK_DIR":
			if v := os.Getenv(k); v != "" {
				return v
			}
			return filepath.Join(*dir, "work")
		}
		return os.Getenv(k)
	})
	if err != nil {
		fmt.Fprintf(stderr, "foresight dev: %v\n", err)
		return 2
	}
	rt, err := service.Open(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "foresight dev: %v\n", err)
		return 1
	}
	comps, api, err := startServices(ctx, rt)
	if err != nil {
		fmt.Fprintf(stderr, "foresight dev: %v\n", err)
		rt.Close()
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "foresight dev: listen %s: %v\n", *addr, err)
		rt.Close()
		return 1
	}
	srv := &service.HTTPServer{Log: log, Server: &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := srv.Server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("gateway", "err", err)
		}
	}()
	base := "http://" + dialable(ln.Addr().String())
	fmt.Fprintf(stdout, "foresight: all six services running; gateway on %s (NATS %s)\n", base, ns.ClientURL())

	code := 0
	if *example != "" {
		code = submitAndFollow(ctx, base, *example, stdout)
		if !*serve {
			stop()
		}
	}
	<-ctx.Done()
	// Teardown in order: stop taking requests, stop the services, then the runtime (which
	// drains consumers and flushes the outbox), then NATS and Postgres via the defers.
	teardown := []interface{ Stop() }{srv}
	for i := len(comps) - 1; i >= 0; i-- {
		teardown = append(teardown, comps[i])
	}
	teardown = append(teardown, rt)
	if service.Shutdown(log, cfg.ShutdownTimeout, teardown...) != 0 && code == 0 {
		code = 1
	}
	return code
}

// dialable turns a listen address like "[::]:8080" into one a client can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		return "127.0.0.1:" + port
	}
	return net.JoinHostPort(host, port)
}
