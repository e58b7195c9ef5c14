package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkWorkflowThroughput measures tasks per second through the whole system in one
// process — submit, graph, predict, plan, dispatch, run, observe, record history — on a
// real Postgres and embedded JetStream. Tasks are 1 ms built-in replays so the pipeline,
// not the work, is measured; each workflow has 500 independent tasks.
//
//	go test -run '^$' -bench WorkflowThroughput -benchtime 3x ./cmd/foresight
func BenchmarkWorkflowThroughput(b *testing.B) {
	const width = 500
	var spec strings.Builder
	spec.WriteString(`{"name":"throughput","tasks":[`)
	for i := range width {
		if i > 0 {
			spec.WriteString(",")
		}
		fmt.Fprintf(&spec, `{"id":"t%04d","replay_seconds":0.001,"cpu":0.01,"memory":"1Mi"}`, i)
	}
	spec.WriteString("]}")
	s := setup(b, "FORESIGHT_LOCAL_CORES", "64")
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		code, sub := submit(b, s.api, spec.String())
		require.Equal(b, http.StatusAccepted, code, sub)
		require.Equal(b, "succeeded", waitStatus(b, s.api, sub["id"].(string), 10*time.Minute)["status"])
	}
	b.ReportMetric(float64(width*b.N)/time.Since(start).Seconds(), "tasks/s")
}
