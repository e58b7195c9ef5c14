package main

import (
	"context"
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
// not the work, is measured; each workflow has width independent tasks, so the cost of
// work that grows with the workflow's size shows as falling tasks/s at larger widths.
// 8,000 tasks is about half the largest workflow whose forecast fits one bus message
// (docs/spec.md); with nats-server's default 1 MiB messages it never finished.
//
//	go test -run '^$' -bench WorkflowThroughput -benchtime 1x ./cmd/foresight
func BenchmarkWorkflowThroughput(b *testing.B) {
	for _, width := range []int{500, 2000, 8000} {
		b.Run(fmt.Sprintf("width=%d", width), func(b *testing.B) { benchmarkThroughput(b, width) })
	}
}

func benchmarkThroughput(b *testing.B, width int) {
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
		// Poll the status column, not GET /v1/workflows/{id}: that reads every task, and at
		// ten polls a second it would be measured along with the pipeline.
		var status string
		require.Eventually(b, func() bool {
			_ = s.pool.QueryRow(context.Background(), `SELECT status FROM workflows WHERE id = $1`, sub["id"]).Scan(&status)
			return status == "succeeded" || status == "failed"
		}, 10*time.Minute, 50*time.Millisecond)
		require.Equal(b, "succeeded", status)
	}
	b.ReportMetric(float64(width*b.N)/time.Since(start).Seconds(), "tasks/s")
}
