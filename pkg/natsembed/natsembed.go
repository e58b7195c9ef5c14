// Package natsembed runs a JetStream-enabled nats-server inside the process, for the
// all-in-one dev mode and for tests.
package natsembed

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/foresight-run/foresight/pkg/events"
)

// Config chooses where the embedded server listens and stores streams.
type Config struct {
	Host string // default 127.0.0.1
	// Port is the client port; -1 picks a free one.
	Port     int
	StoreDir string
}

// Start runs the server and waits until it accepts connections.
func Start(cfg Config) (*server.Server, error) {
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	opts := &server.Options{
		Host:      host,
		Port:      cfg.Port,
		JetStream: true,
		StoreDir:  cfg.StoreDir,
		NoSigs:    true,
		NoLog:     true,
		// Dev and test servers are single-node; production settings live in deploy/.
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  4 << 30,
		MaxPayload:         events.MaxEnvelopeBytes,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("new nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server on %s:%d not ready after 10s", host, cfg.Port)
	}
	return s, nil
}
