package estimate

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

func TestEstimateFallbackChain(t *testing.T) {
	t.Parallel()
	h := MapHistory{
		Signatures: map[string]Stats{
			"known":   {Count: 3, MeanSeconds: 42},
			"empty":   {Count: 0, MeanSeconds: 99},
			"garbage": {Count: 2, MeanSeconds: math.Inf(1)},
		},
		Families: map[string]Stats{"fam": {Count: 10, MeanSeconds: 7}, "nofam": {Count: 0}},
	}
	tests := []struct {
		name       string
		task       events.Task
		sig, fam   string
		hist       History
		prior      float64
		want       float64
		wantSource string
	}{
		{name: "history wins over the user", task: events.Task{EstimatedSeconds: 5}, sig: "known", fam: "fam",
			hist: h, prior: 60, want: 42, wantSource: SourceHistory},
		{name: "user when no history", task: events.Task{EstimatedSeconds: 5}, sig: "unknown", fam: "fam",
			hist: h, prior: 60, want: 5, wantSource: SourceUser},
		{name: "empty history is no history", task: events.Task{EstimatedSeconds: 5}, sig: "empty", fam: "fam",
			hist: h, prior: 60, want: 5, wantSource: SourceUser},
		{name: "non-finite history is no history", sig: "garbage", fam: "fam",
			hist: h, prior: 60, want: 7, wantSource: SourceFamilyPrior},
		{name: "family prior", sig: "unknown", fam: "fam", hist: h, prior: 60, want: 7, wantSource: SourceFamilyPrior},
		{name: "global prior", sig: "unknown", fam: "other", hist: h, prior: 30, want: 30, wantSource: SourceGlobalPrior},
		{name: "empty family stats", sig: "unknown", fam: "nofam", hist: h, prior: 30, want: 30, wantSource: SourceGlobalPrior},
		{name: "nil history", task: events.Task{EstimatedSeconds: 5}, hist: nil, want: 5, wantSource: SourceUser},
		{name: "default prior", hist: nil, prior: 0, want: DefaultGlobalPriorSeconds, wantSource: SourceGlobalPrior},
		{name: "non-finite prior", hist: nil, prior: math.NaN(), want: DefaultGlobalPriorSeconds, wantSource: SourceGlobalPrior},
		{name: "replay is not an estimate", task: events.Task{ReplaySeconds: 123}, hist: nil, prior: 10,
			want: 10, wantSource: SourceGlobalPrior},
		{name: "infinite user estimate ignored", task: events.Task{EstimatedSeconds: math.Inf(1)}, hist: nil, prior: 10,
			want: 10, wantSource: SourceGlobalPrior},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, src := Estimate(tc.task, tc.sig, tc.fam, tc.hist, tc.prior)
			require.InDelta(t, tc.want, got, 0)
			require.Equal(t, tc.wantSource, src)
		})
	}
}
