package spec

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse feeds arbitrary bytes to the format-detecting parser (native JSON, native
// YAML, WfFormat 1.4 and 1.5; seeds in testdata/fuzz/FuzzParse cover each). Whatever it
// accepts must be a valid workflow that exports to WfFormat and imports back with the
// same graph.
func FuzzParse(f *testing.F) {
	lim := Limits{MaxTasks: 200, MaxEdges: 1000, MaxBodyBytes: 64 << 10, MaxDepth: 16, MaxStringLen: 512}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Parse(data, lim)
		if err != nil {
			var se *Error
			require.ErrorAs(t, err, &se)
			require.NotEmpty(t, se.Problems)
			require.Nil(t, w)
			return
		}
		require.NoError(t, Validate(w, lim))
		require.NotEmpty(t, w.Tasks)
		for _, tk := range w.Tasks {
			require.True(t, tk.CPU > 0 && !math.IsInf(tk.CPU, 0))
			require.Positive(t, tk.MemoryBytes)
			require.NotEmpty(t, tk.Command)
		}
		out, err := ExportWfFormat(w, nil)
		require.NoError(t, err)
		back, err := Parse(out, Limits{MaxStringLen: lim.MaxStringLen})
		require.NoError(t, err, "export of an accepted workflow must import: %s", out)
		require.Len(t, back.Tasks, len(w.Tasks))
		for i := range w.Tasks {
			require.Len(t, back.Tasks[i].DependsOn, len(w.Tasks[i].DependsOn))
		}
	})
}

// FuzzParseMemory checks the quantity parser never panics, never returns a negative
// amount, and reads its own output (plain bytes) back unchanged.
func FuzzParseMemory(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseMemory(s)
		if err != nil {
			require.ErrorIs(t, err, ErrQuantity)
			return
		}
		require.GreaterOrEqual(t, b, int64(0))
		again, err := ParseMemory(strconv.FormatInt(b, 10))
		require.NoError(t, err)
		require.Equal(t, b, again)
	})
}
