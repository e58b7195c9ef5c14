package model

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzObservePredict feeds arbitrary observations and checks the invariants every caller
// relies on: finite, positive, ordered quantiles, and a state that survives a round trip.
func FuzzObservePredict(f *testing.F) {
	f.Add("sig", "fam", "cat", int64(1000), 10.0, 5.0, int64(1<<20), int64(2000), 0.0)
	f.Add("", "", "", int64(0), 0.0, 0.0, int64(0), int64(0), 0.0)
	f.Add("s", "f", "c", int64(-5), math.Inf(1), math.NaN(), int64(-1), int64(math.MaxInt64), -3.0)
	f.Add("s", "f", "c", int64(1), 1e-12, 1e12, int64(math.MaxInt64), int64(1), 1e300)
	f.Fuzz(func(t *testing.T, sig, fam, cat string, in int64, rt, cpuSec float64, mem, qin int64, user float64) {
		m := New(DefaultConfig())
		r := m.NewRun()
		for i := range 7 {
			o := Observation{Signature: sig, Family: fam, Category: cat, InputBytes: in * int64(i+1), RuntimeSeconds: rt * float64(i+1), CPUSeconds: cpuSec, PeakRSSBytes: mem}
			m.Observe(o)
			r.Observe(o)
		}
		q := Query{Signature: sig, Family: fam, Category: cat, InputBytes: qin, UserEstimateSeconds: user}
		r.Started(q)
		for _, p := range []Prediction{m.Predict(q), r.Predict(q)} {
			for _, v := range []float64{p.P50, p.P90, p.P99, p.CPU} {
				require.False(t, math.IsNaN(v), "%+v", p)
			}
			require.Greater(t, p.P50, 0.0, "%+v", p)
			require.LessOrEqual(t, p.P50, p.P90, "%+v", p)
			require.LessOrEqual(t, p.P90, p.P99, "%+v", p)
			require.LessOrEqual(t, p.MemoryP50, p.MemoryP90, "%+v", p)
			require.NotEmpty(t, p.Source)
		}
		r.Finish()
		b, err := json.Marshal(m)
		require.NoError(t, err)
		var back Model
		require.NoError(t, json.Unmarshal(b, &back))
	})
}
