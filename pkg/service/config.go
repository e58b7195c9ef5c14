// Package service is the shell every Foresight service shares: configuration from the
// environment, the runtime (Postgres, JetStream, consumer, outbox relay), health endpoints
// and a lifecycle that shuts down in a named order with a deadline.
package service

import (
	"cmp"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is read from FORESIGHT_* environment variables. Every field documents its
// variable and default.
type Config struct {
	// DatabaseURL (FORESIGHT_DATABASE_URL, required) is the Postgres URL.
	DatabaseURL string
	// NATSURL (FORESIGHT_NATS_URL, default nats://127.0.0.1:4222) is the JetStream server.
	NATSURL string
	// HTTPAddr (FORESIGHT_HTTP_ADDR, default :8081; the gateway's API uses :8080) serves
	// /healthz and /readyz.
	HTTPAddr string
	// LogLevel (FORESIGHT_LOG_LEVEL: debug, info, warn, error; default info).
	LogLevel slog.Level
	// AckWait (FORESIGHT_ACK_WAIT, default 30s) is how long JetStream waits for an ack
	// before redelivering; handlers heartbeat every third of it.
	AckWait time.Duration
	// ShutdownTimeout (FORESIGHT_SHUTDOWN_TIMEOUT, default 20s) bounds graceful shutdown.
	ShutdownTimeout time.Duration
	// StreamReplicas (FORESIGHT_STREAM_REPLICAS, default 1; 3 on a NATS cluster).
	StreamReplicas int
	// Provider (FORESIGHT_PROVIDER, default local) chooses the pool manager's VM provider.
	Provider string
	// LocalCores (FORESIGHT_LOCAL_CORES, default: this host's cores) caps the local provider.
	LocalCores float64
	// WorkDir (FORESIGHT_WORK_DIR, default .foresight/work) is where local tasks run.
	WorkDir string
	// StallAfter (FORESIGHT_STALL_AFTER, default 5m) is how long a workflow may go without
	// an event, with no task running, before its events are re-emitted.
	StallAfter time.Duration
	// ReplayScale (FORESIGHT_REPLAY_SCALE, default 1) multiplies the runtime of replayed
	// trace tasks (0.01 replays a 100 s task in 1 s).
	ReplayScale float64
}

// LoadConfig reads the configuration through getenv (os.Getenv in production) and validates
// it; an error names the offending variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL: getenv("FORESIGHT_DATABASE_URL"),
		NATSURL:     cmp.Or(getenv("FORESIGHT_NATS_URL"), "nats://127.0.0.1:4222"),
		HTTPAddr:    cmp.Or(getenv("FORESIGHT_HTTP_ADDR"), ":8081"),
		Provider:    cmp.Or(getenv("FORESIGHT_PROVIDER"), "local"),
		WorkDir:     cmp.Or(getenv("FORESIGHT_WORK_DIR"), ".foresight/work"),
	}
	var errs []string
	if c.DatabaseURL == "" {
		errs = append(errs, "FORESIGHT_DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/foresight?sslmode=disable)")
	}
	if !strings.HasPrefix(c.NATSURL, "nats://") && !strings.HasPrefix(c.NATSURL, "tls://") {
		errs = append(errs, fmt.Sprintf("FORESIGHT_NATS_URL %q: want nats://host:port", c.NATSURL))
	}
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(getenv("FORESIGHT_LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Sprintf("FORESIGHT_LOG_LEVEL: %v", err))
	}
	parseDur := func(name string, def time.Duration, dst *time.Duration) {
		*dst = def
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Sprintf("%s %q: want a positive duration like 30s", name, v))
				return
			}
			*dst = d
		}
	}
	parseDur("FORESIGHT_ACK_WAIT", 30*time.Second, &c.AckWait)
	parseDur("FORESIGHT_SHUTDOWN_TIMEOUT", 20*time.Second, &c.ShutdownTimeout)
	parseDur("FORESIGHT_STALL_AFTER", 5*time.Minute, &c.StallAfter)
	c.StreamReplicas = 1
	if v := getenv("FORESIGHT_STREAM_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 1 && n != 3 && n != 5) {
			errs = append(errs, fmt.Sprintf("FORESIGHT_STREAM_REPLICAS %q: want 1, 3 or 5", v))
		}
		c.StreamReplicas = n
	}
	if v := getenv("FORESIGHT_LOCAL_CORES"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Sprintf("FORESIGHT_LOCAL_CORES %q: want a positive number", v))
		}
		c.LocalCores = f
	}
	c.ReplayScale = 1
	if v := getenv("FORESIGHT_REPLAY_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Sprintf("FORESIGHT_REPLAY_SCALE %q: want a positive number", v))
		}
		c.ReplayScale = f
	}
	switch c.Provider {
	case "local", "sim":
	default:
		errs = append(errs, fmt.Sprintf("FORESIGHT_PROVIDER %q: want local or sim", c.Provider))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}
