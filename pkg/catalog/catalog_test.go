package catalog

import (
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultIsValidAndCoversFamilies(t *testing.T) {
	t.Parallel()
	c := Default()
	require.Equal(t, 60.0, c.MinimumBillSeconds)
	require.Positive(t, c.Quotas.MaxVMs)
	require.Positive(t, c.Quotas.MaxCores)
	families := map[string]int{}
	for _, it := range c.Types {
		families[strings.SplitN(it.Name, ".", 2)[0]]++
		require.Positive(t, it.PricePerSecond, it.Name)
		require.Less(t, it.WarmCostPerSecond, it.PricePerSecond/20, "%s: a stopped VM must cost far less than a running one", it.Name)
		require.Zero(t, it.Hot.MeanSeconds, it.Name)
		require.Less(t, it.Warm.MeanSeconds, it.Cold.MeanSeconds, it.Name)
	}
	for _, f := range []string{"m7i", "c7i", "r7i"} {
		require.GreaterOrEqual(t, families[f], 4, "family %s", f)
	}
	// m7i.large lists at $0.1008/h.
	m, ok := c.Type("m7i.large")
	require.True(t, ok)
	require.InDelta(t, 0.1008/3600, m.PricePerSecond, 1e-12)
	require.Equal(t, 8*GiB, m.MemoryBytes)
	require.Equal(t, 2.0, m.Cores)
	// 20 GiB gp3 at $0.08/GB-month over a 30-day month.
	require.InDelta(t, 20*0.08/2592000, m.WarmCostPerSecond, 1e-15)
	// DefaultYAML is a copy: mutating it must not break Default.
	b := DefaultYAML()
	b[0] = 'X'
	require.NotPanics(t, func() { Default() })
}

func TestLoadAppliesOverrides(t *testing.T) {
	t.Parallel()
	c, err := Load(filepath.Join("testdata", "small.yaml"))
	require.NoError(t, err)
	require.Len(t, c.Types, 2)
	small, _ := c.Type("small")
	big, _ := c.Type("big")
	require.InDelta(t, 0.0001, small.PricePerSecond, 1e-15)
	require.InDelta(t, 10*0.10/2592000, small.WarmCostPerSecond, 1e-18)
	require.InDelta(t, 50*0.10/2592000, big.WarmCostPerSecond, 1e-18)
	require.Equal(t, Latency{90, 120}, small.Cold)
	require.Equal(t, Latency{120, 180}, big.Cold, "per-type override wins")
	require.Equal(t, Latency{20, 30}, big.Warm, "unset tier inherits the default")
	require.Equal(t, Quotas{MaxVMs: 4, MaxCores: 16}, c.Quotas)

	_, err = Load(filepath.Join("testdata", "missing.yaml"))
	require.Error(t, err)
}

func TestParseErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const base = `
billing: {minimum_seconds: 60}
storage: {root_volume_gib: 10, price_per_gib_month: 0.1}
latency:
  hot: {mean_seconds: 0, p90_seconds: 0}
  warm: {mean_seconds: 20, p90_seconds: 30}
  cold: {mean_seconds: 90, p90_seconds: 120}
quotas: {max_vms: 4, max_vcpus: 16}
`
	okType := "types:\n  - {name: a, vcpus: 2, memory_gib: 4, price_per_hour: 1}\n"
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"empty", "", "empty document"},
		{"unknown field", base + okType + "colour: red\n", "colour"},
		{"no billing", strings.Replace(base, "billing: {minimum_seconds: 60}", "", 1) + okType, "billing.minimum_seconds"},
		{"negative minimum", strings.Replace(base, "minimum_seconds: 60", "minimum_seconds: -1", 1) + okType, "billing.minimum_seconds"},
		{"no quota", strings.Replace(base, "max_vms: 4", "max_vms: 0", 1) + okType, "quotas.max_vms"},
		{"no vcpu quota", strings.Replace(base, "max_vcpus: 16", "max_vcpus: 0", 1) + okType, "quotas.max_vcpus"},
		{"negative storage", strings.Replace(base, "price_per_gib_month: 0.1", "price_per_gib_month: -0.1", 1) + okType, "storage.price_per_gib_month"},
		{"no types", base, "types"},
		{"unnamed", base + "types:\n  - {vcpus: 2, memory_gib: 4, price_per_hour: 1}\n", "types[0].name"},
		{"duplicate", base + okType + "  - {name: a, vcpus: 2, memory_gib: 4, price_per_hour: 1}\n", "types[1] (a).name: duplicate"},
		{"zero vcpus", base + "types:\n  - {name: a, vcpus: 0, memory_gib: 4, price_per_hour: 1}\n", "types[0] (a).vcpus"},
		{"zero memory", base + "types:\n  - {name: a, vcpus: 2, memory_gib: 0, price_per_hour: 1}\n", "types[0] (a).memory_gib"},
		{"free", base + "types:\n  - {name: a, vcpus: 2, memory_gib: 4, price_per_hour: 0}\n", "types[0] (a).price_per_hour"},
		{"p90 below mean", strings.Replace(base, "p90_seconds: 120", "p90_seconds: 80", 1) + okType, "latency.cold.p90_seconds"},
		{"p90 too far for lognormal", strings.Replace(base, "p90_seconds: 120", "p90_seconds: 400", 1) + okType, "latency.cold.p90_seconds"},
		{"hot p90 without mean", strings.Replace(base, "hot: {mean_seconds: 0, p90_seconds: 0}", "hot: {mean_seconds: 0, p90_seconds: 3}", 1) + okType, "latency.hot.p90_seconds"},
		{"type override invalid", base + "types:\n  - {name: a, vcpus: 2, memory_gib: 4, price_per_hour: 1, latency: {warm: {mean_seconds: -1, p90_seconds: 0}}}\n", "types[0] (a).latency.warm.mean_seconds"},
		{"missing tier default", strings.Replace(base, "  cold: {mean_seconds: 90, p90_seconds: 120}\n", "", 1) + okType, "latency.cold: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.yaml))
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLatencyFitsMeanAndP90(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		l    Latency
	}{
		{"warm default", Latency{35, 50}},
		{"cold default", Latency{60, 96.9}},
		{"degenerate", Latency{30, 30}},
		{"near the lognormal limit", Latency{10, 10 * maxP90OverMean * 0.999}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, tt.l.validate())
			require.InDelta(t, tt.l.P90Seconds, tt.l.Quantile(0.9), 1e-6*tt.l.P90Seconds)
			// The mean of the quantile function over (0,1) is the distribution's mean.
			const n = 200000
			sum := 0.0
			for i := range n {
				sum += tt.l.Sample((float64(i) + 0.5) / n)
			}
			require.InDelta(t, tt.l.MeanSeconds, sum/n, 0.01*tt.l.MeanSeconds)
			require.LessOrEqual(t, tt.l.Median(), tt.l.MeanSeconds*(1+1e-12))
			// Monotone in u, positive.
			prev := 0.0
			for _, u := range []float64{0, 1e-6, 0.1, 0.5, 0.9, 0.999, 1} {
				s := tt.l.Sample(u)
				require.False(t, math.IsNaN(s) || math.IsInf(s, 0))
				require.GreaterOrEqual(t, s, prev)
				prev = s
			}
		})
	}
	require.Zero(t, Latency{}.Sample(0.7), "hot tier is immediate")
}

func TestCheapestFitAndLargest(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		name  string
		cores float64
		mem   int64
		want  string
		ok    bool
	}{
		{"tiny task", 1, GiB, "c7i.large", true},
		{"memory heavy", 2, 12 * GiB, "r7i.large", true},
		{"balanced", 3, 10 * GiB, "m7i.xlarge", true},
		{"compute", 16, 20 * GiB, "c7i.4xlarge", true},
		{"biggest memory", 1, 256 * GiB, "r7i.8xlarge", true},
		{"too big", 64, GiB, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.CheapestFit(tt.cores, tt.mem)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got.Name)
			if ok {
				// Brute force: nothing that fits is cheaper.
				for _, it := range c.Types {
					if it.Cores >= tt.cores && it.MemoryBytes >= tt.mem {
						require.GreaterOrEqual(t, it.PricePerSecond, got.PricePerSecond)
					}
				}
			}
		})
	}
	largest := c.Largest()
	require.Equal(t, "r7i.8xlarge", largest.Name)
	byCores := append([]InstanceType(nil), c.Types...)
	sort.Slice(byCores, func(i, j int) bool { return byCores[i].Cores > byCores[j].Cores })
	require.Equal(t, byCores[0].Cores, largest.Cores)
	require.Zero(t, Catalog{}.Largest().Cores)
}

func TestBilledCost(t *testing.T) {
	t.Parallel()
	c := Catalog{MinimumBillSeconds: 60}
	it := InstanceType{Name: "x", PricePerSecond: 0.001}
	tests := []struct {
		name string
		run  float64
		want float64
	}{
		{"no run still bills the minimum", 0, 0.06},
		{"negative counts as zero", -5, 0.06},
		{"under the minimum", 1, 0.06},
		{"exactly the minimum", 60, 0.06},
		{"per second after", 61.5, 0.0615},
		{"an hour", 3600, 3.6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.want, c.BilledCost(it, tt.run), 1e-12)
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("billing: {minimum_seconds: 60}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		for _, it := range c.Types {
			require.Positive(t, it.PricePerSecond)
			for _, l := range []Latency{it.Hot, it.Warm, it.Cold} {
				s := l.Sample(0.5)
				require.False(t, math.IsNaN(s) || math.IsInf(s, 0) || s < 0)
			}
		}
	})
}
