package forecast

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDemand builds a small graph from bytes (each task's parents are earlier tasks, so it
// is acyclic) and checks that the curve is a proper step function: offsets strictly rise,
// demand is never negative, the P90 band is never below P50, and everything ends at zero.
func FuzzDemand(f *testing.F) {
	f.Add([]byte{3, 10, 20, 1, 5, 7, 2, 0, 0, 9})
	f.Add([]byte{})
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tasks []TaskDemand
		for i := 0; i+2 < len(b) && len(tasks) < 64; i += 3 {
			td := TaskDemand{CPU: float64(b[i]%8) / 2, MemoryBytes: int64(b[i+1]) << 20, P50: float64(b[i+2] % 50), P90: float64(b[i+2]%50) + float64(b[i]%7)}
			if n := len(tasks); n > 0 {
				td.Parents = []int32{int32(int(b[i+1]) % n)}
			}
			tasks = append(tasks, td)
		}
		c := Demand(tasks, nil)
		for i, p := range c.Points {
			if i > 0 {
				require.Greater(t, p.OffsetSeconds, c.Points[i-1].OffsetSeconds)
			}
			require.GreaterOrEqual(t, p.Cores, 0.0)
			require.GreaterOrEqual(t, p.CoresP90, p.Cores)
			require.GreaterOrEqual(t, p.MemoryBytes, int64(0))
			require.GreaterOrEqual(t, p.MemoryBytesP90, p.MemoryBytes)
			require.False(t, math.IsNaN(p.Cores))
		}
		if n := len(c.Points); n > 0 {
			last := c.Points[n-1]
			require.Zero(t, last.CoresP90)
			require.Zero(t, last.MemoryBytesP90)
			require.LessOrEqual(t, last.OffsetSeconds, c.MakespanP90+1e-9)
		}
		require.LessOrEqual(t, c.MakespanP50, c.MakespanP90)
		for _, w := range Contention(c, 2, 64<<20) {
			require.Less(t, w.StartSeconds, w.EndSeconds)
		}
	})
}
