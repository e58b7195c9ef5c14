package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"syscall"

	"github.com/foresight-run/foresight/pkg/pgdb"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/allocator"
	"github.com/foresight-run/foresight/services/gateway"
	"github.com/foresight-run/foresight/services/graphbuilder"
	"github.com/foresight-run/foresight/services/monitor"
	"github.com/foresight-run/foresight/services/poolmanager"
	"github.com/foresight-run/foresight/services/poolmanager/agent"
	"github.com/foresight-run/foresight/services/poolmanager/provider/local"
	"github.com/foresight-run/foresight/services/predictor"
)

// serviceNames lists the six services in start order: consumers of an event start before
// its producers, so nothing waits on a missing consumer.
var serviceNames = []string{"monitor", "poolmanager", "allocator", "predictor", "graphbuilder", "gateway"}

// host describes the machine the local provider slices into VMs.
func host(cfg service.Config) (cores float64, memory int64) {
	cores = float64(runtime.NumCPU())
	if cfg.LocalCores > 0 {
		cores = cfg.LocalCores
	}
	var si syscall.Sysinfo_t
	memory = 4 << 30
	if err := syscall.Sysinfo(&si); err == nil {
		memory = int64(si.Totalram) * int64(si.Unit)
	}
	return cores, memory
}

// buildService wires one service onto rt.
func buildService(name string, rt *service.Runtime) (service.Component, error) {
	cores, mem := host(rt.Config)
	switch name {
	case "gateway":
		return gateway.New(rt), nil
	case "graphbuilder":
		return graphbuilder.New(rt), nil
	case "predictor":
		return predictor.New(rt, predictor.Options{CapacityCores: cores, CapacityMemoryBytes: mem}), nil
	case "allocator":
		return allocator.New(rt, allocator.HostPlanner(cores, mem)), nil
	case "poolmanager":
		return poolmanager.New(rt, poolmanager.Options{
			Provider: local.New(rt.Clock, cores, mem),
			Agent:    agent.Options{WorkDir: rt.Config.WorkDir, ReplayScale: replayScale()},
		}), nil
	case "monitor":
		return monitor.New(rt), nil
	}
	return nil, fmt.Errorf("unknown service %q", name)
}

// replayScale reads FORESIGHT_REPLAY_SCALE (default 1): how fast replayed trace tasks run.
func replayScale() float64 {
	var f float64
	if _, err := fmt.Sscan(os.Getenv("FORESIGHT_REPLAY_SCALE"), &f); err == nil && f > 0 {
		return f
	}
	return 1
}

// startServices builds and starts all six services on one runtime, returning them in
// start order and the gateway's HTTP API.
func startServices(ctx context.Context, rt *service.Runtime) ([]service.Component, http.Handler, error) {
	comps := make([]service.Component, 0, len(serviceNames))
	var api http.Handler
	for _, name := range serviceNames {
		c, err := buildService(name, rt)
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
	return service.Main(name, func(ctx context.Context, rt *service.Runtime) (service.Component, error) {
		return buildService(name, rt)
	})
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
