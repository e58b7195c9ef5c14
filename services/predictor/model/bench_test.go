package model

import (
	"fmt"
	"testing"
)

// BenchmarkPredict measures a prediction against a full window with input-size
// regression, after the fit is cached (the common case: many predictions per update).
func BenchmarkPredict(b *testing.B) {
	m := New(DefaultConfig())
	for i := range 256 {
		m.Observe(Observation{Signature: "s", Family: "f", Category: "c", InputBytes: int64(1+i%50) << 20, RuntimeSeconds: float64(1 + i%50)})
	}
	q := Query{Signature: "s", Family: "f", Category: "c", InputBytes: 30 << 20}
	for b.Loop() {
		_ = m.Predict(q)
	}
}

// BenchmarkObservePredict measures the online loop: every observation invalidates the
// fit, so each prediction refits a 256-sample window.
func BenchmarkObservePredict(b *testing.B) {
	m := New(DefaultConfig())
	q := Query{Signature: "s", Family: "f", Category: "c", InputBytes: 30 << 20}
	i := 0
	for b.Loop() {
		m.Observe(Observation{Signature: "s", Family: "f", Category: "c", InputBytes: int64(1+i%50) << 20, RuntimeSeconds: float64(1 + i%50)})
		_ = m.Predict(q)
		i++
	}
}

// BenchmarkRunPredict measures a sibling-sharpened prediction in a 1000-task run.
func BenchmarkRunPredict(b *testing.B) {
	m := New(DefaultConfig())
	for i := range 100 {
		m.Observe(Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: float64(1 + i%9)})
	}
	r := m.NewRun()
	for i := range 500 {
		r.Observe(Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: float64(2 + i%9)})
	}
	q := Query{Signature: "s", Family: "f", Category: "c"}
	for b.Loop() {
		_ = r.Predict(q)
	}
}

// BenchmarkTraceReplay measures replaying every trace with history at dispatch.
func BenchmarkTraceReplay(b *testing.B) {
	traces := loadTraces(b)
	for b.Loop() {
		if len(replay(traces, DefaultConfig(), true, false)) == 0 {
			b.Fatal(fmt.Errorf("no runs scored"))
		}
	}
}

// BenchmarkRunRevision measures what the live predictor does on a revision: every
// unfinished sibling of a wide stage re-predicted at one instant, with dispatch times.
// Per-prediction cost must not grow with the stage's width (ns/op is per revision;
// compare width=1000 against width=10000). Tasks differ in input size, so each is
// computed, not answered from PredictAt's memo.
func BenchmarkRunRevision(b *testing.B) {
	for _, width := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("width=%d", width), func(b *testing.B) {
			m := New(DefaultConfig())
			for i := range 100 {
				m.Observe(Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: float64(1 + i%9)})
			}
			r := m.NewRun()
			q := Query{Signature: "s", Family: "f", Category: "c"}
			for range width {
				r.StartedAt(q, 0)
			}
			for i := range width / 2 {
				rt := float64(1 + i%9)
				r.ObserveAt(Observation{Signature: "s", Family: "f", Category: "c", RuntimeSeconds: rt}, rt)
			}
			now := 10.0
			for b.Loop() {
				// Each task its own input size: no two share a memoised answer.
				r.memo = nil
				for i := range width / 2 {
					q.InputBytes = int64(1000 + i)
					_ = r.PredictAt(q, now)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(width/2), "ns/prediction")
		})
	}
}
