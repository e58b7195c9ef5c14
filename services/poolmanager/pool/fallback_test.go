package pool

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
)

func TestFallback(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	small := Request{Option: Option{Tier: TierCold, InstanceType: "m7i.large"}, Cores: 2, MemoryBytes: 4 * catalog.GiB}
	with := func(r Request, f func(*Request)) Request { f(&r); return r }
	tests := []struct {
		name    string
		req     Request
		open    OpenSet
		want    Option
		wantErr error
	}{
		{
			// Same cold latency, so the cheapest other fitting type wins.
			name: "type breaker open: cheapest other type, same tier",
			req:  small, open: OpenSet{{TierCold, "m7i.large"}: true},
			want: Option{TierCold, "c7i.large"},
		},
		{
			name: "a warm standby of the type is faster than any launch",
			req:  with(small, func(r *Request) { r.Warm = map[string]int{"m7i.large": 1} }),
			open: OpenSet{{TierCold, "m7i.large"}: true},
			want: Option{TierWarm, "m7i.large"},
		},
		{
			// Delay is measured against the plan: a warm start is on time for a planned launch,
			// so it beats a pricier idle VM.
			name: "on-time warm standby beats a pricier idle VM",
			req: with(small, func(r *Request) {
				r.HotIdle = map[string]int{"m7i.2xlarge": 1}
				r.Warm = map[string]int{"m7i.large": 1}
			}),
			open: OpenSet{{TierCold, "m7i.large"}: true},
			want: Option{TierWarm, "m7i.large"},
		},
		{
			name: "planned hot VM gone: another idle VM beats a late warm start",
			req: with(small, func(r *Request) {
				r.Option = Option{TierHot, "m7i.large"}
				r.HotIdle = map[string]int{"m7i.2xlarge": 1}
				r.Warm = map[string]int{"m7i.large": 1}
			}),
			want: Option{TierHot, "m7i.2xlarge"},
		},
		{
			name: "whole cold tier open: warm of another type",
			req:  with(small, func(r *Request) { r.Warm = map[string]int{"r7i.large": 2} }),
			open: OpenSet{{Tier: TierCold}: true},
			want: Option{TierWarm, "r7i.large"},
		},
		{
			name: "warm breaker open for the planned type: cold of the same type",
			req: with(small, func(r *Request) {
				r.Option = Option{TierWarm, "r7i.large"}
				r.MemoryBytes = 12 * catalog.GiB
				r.Warm = map[string]int{"r7i.large": 3}
			}),
			open: OpenSet{{TierWarm, "r7i.large"}: true},
			want: Option{TierCold, "r7i.large"},
		},
		{
			// With λ, the delay is priced: a cheap launch beats an 8xlarge hot VM held for an hour.
			name: "small lambda prefers a cheap launch to an expensive idle VM",
			req: with(small, func(r *Request) {
				r.Option = Option{TierHot, "m7i.large"}
				r.HotIdle = map[string]int{"r7i.8xlarge": 1}
				r.HoldSeconds = 3600
				r.Lambda = 0.0001
			}),
			want: Option{TierCold, "c7i.large"},
		},
		{
			name: "large lambda prefers the idle VM",
			req: with(small, func(r *Request) {
				r.Option = Option{TierHot, "m7i.large"}
				r.HotIdle = map[string]int{"r7i.8xlarge": 1}
				r.HoldSeconds = 3600
				r.Lambda = 1
			}),
			want: Option{TierHot, "r7i.8xlarge"},
		},
		{
			name:    "nothing fits",
			req:     with(small, func(r *Request) { r.Cores = 500 }),
			wantErr: ErrNoFallback,
		},
		{
			name:    "provider down, no stock",
			req:     small,
			open:    OpenSet{{Tier: TierCold}: true, {Tier: TierWarm}: true},
			wantErr: ErrNoFallback,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, reason, err := Fallback(tt.req, cat, tt.open)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got, reason)
			require.Contains(t, reason, tt.req.Option.String())
			require.Contains(t, reason, got.String())
			require.NotEqual(t, tt.req.Option, got)
		})
	}
}
