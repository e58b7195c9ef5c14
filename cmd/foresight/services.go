package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/foresight-run/foresight/cmd/foresight/bench"
	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/pgdb"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/allocator"
	"github.com/foresight-run/foresight/services/gateway"
	"github.com/foresight-run/foresight/services/graphbuilder"
	"github.com/foresight-run/foresight/services/monitor"
	"github.com/foresight-run/foresight/services/poolmanager"
	"github.com/foresight-run/foresight/services/predictor"
)

// serviceNames lists the six services in start order: consumers of an event start before
// its producers, so nothing waits on a missing consumer.
var serviceNames = []string{"monitor", "poolmanager", "allocator", "predictor", "graphbuilder", "gateway"}

// builders wires each service; the per-service binaries use the same factories, except
// that only this one gives the predictor the benchmark's simulator to replay finished
// workflows with (predictor.BuildWith).
var builders = map[string]service.Factory{
	"gateway":      gateway.Build,
	"graphbuilder": graphbuilder.Build,
	"predictor":    predictor.BuildWith(bench.Replayer(catalog.Default())),
	"allocator":    allocator.Build,
	"poolmanager":  poolmanager.Build,
	"monitor":      monitor.Build,
}

// startServices builds and starts all six services on one runtime, returning them in
// start order and the gateway's HTTP API.
func startServices(ctx context.Context, rt *service.Runtime) ([]service.Component, http.Handler, error) {
	comps := make([]service.Component, 0, len(serviceNames))
	var api http.Handler
	for _, name := range serviceNames {
		c, err := builders[name](ctx, rt)
		if err == nil {
			err = c.Start(ctx)
		}
		if err != nil {
			for i := len(comps) - 1; i >= 0; i-- {
				comps[i].Stop()
			}
			return nil, nil, fmt.Errorf("start %s: %w", name, err)
		}
		if h, ok := c.(interface{ Handler() http.Handler }); ok {
			api = h.Handler()
		}
		comps = append(comps, c)
	}
	return comps, api, nil
}

func runService(name string) int {
	return service.Main(name, builders[name])
}

func runMigrate(stderr interface{ Write([]byte) (int, error) }) int {
	url := os.Getenv("FORESIGHT_DATABASE_URL")
	if url == "" {
		fmt.Fprintln(stderr, "foresight migrate: FORESIGHT_DATABASE_URL is required")
		return 2
	}
	if err := pgdb.Migrate(url); err != nil {
		fmt.Fprintf(stderr, "foresight migrate: %v\n", err)
		return 1
	}
	fmt.Fprintln(stderr, "migrations applied")
	return 0
}
