package dag

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

func task(id string, deps ...string) events.Task {
	return events.Task{ID: id, DependsOn: deps, CPU: 1}
}

func TestNewProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tasks []events.Task
		want  []events.Problem
	}{
		{name: "valid diamond", tasks: []events.Task{task("a"), task("b", "a"), task("c", "a"), task("d", "b", "c")}},
		{name: "duplicate id", tasks: []events.Task{task("a"), task("a")},
			want: []events.Problem{{Task: "a", Field: "tasks[1].id", Reason: "duplicate task id"}}},
		{name: "unknown dependency", tasks: []events.Task{task("a", "zz")},
			want: []events.Problem{{Task: "a", Field: "tasks[0].depends_on", Reason: `unknown dependency "zz"`}}},
		{name: "self dependency", tasks: []events.Task{task("a", "a")},
			want: []events.Problem{{Task: "a", Field: "tasks[0].depends_on", Reason: "task depends on itself"}}},
		{name: "two-cycle", tasks: []events.Task{task("a", "b"), task("b", "a")},
			want: []events.Problem{{Task: "a", Field: "tasks[0].depends_on", Reason: "cycle: a -> b -> a"}}},
		{name: "cycle behind a valid prefix", tasks: []events.Task{task("s"), task("x", "s", "z"), task("y", "x"), task("z", "y"), task("t", "z")},
			want: []events.Problem{{Task: "x", Field: "tasks[1].depends_on", Reason: "cycle: x -> y -> z -> x"}}},
		{name: "all at once", tasks: []events.Task{task("a", "a", "nope"), task("a"), task("b", "c"), task("c", "b")},
			want: []events.Problem{
				{Task: "a", Field: "tasks[1].id", Reason: "duplicate task id"},
				{Task: "a", Field: "tasks[0].depends_on", Reason: "task depends on itself"},
				{Task: "a", Field: "tasks[0].depends_on", Reason: `unknown dependency "nope"`},
				{Task: "b", Field: "tasks[2].depends_on", Reason: "cycle: b -> c -> b"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, problems := New(tc.tasks)
			require.Equal(t, tc.want, problems)
			cycle := slices.ContainsFunc(problems, func(p events.Problem) bool { return strings.HasPrefix(p.Reason, "cycle:") })
			require.Equal(t, !cycle, g.Acyclic())
		})
	}
}

func TestLongCycleIsTruncated(t *testing.T) {
	t.Parallel()
	n := 500
	tasks := make([]events.Task, n)
	for i := range tasks {
		tasks[i] = task(fmt.Sprint("t", i), fmt.Sprint("t", (i+n-1)%n))
	}
	_, problems := New(tasks)
	require.Len(t, problems, 1)
	require.Contains(t, problems[0].Reason, "more) -> ")
	require.Less(t, len(problems[0].Reason), 2000)
}

func TestGraphAccessors(t *testing.T) {
	t.Parallel()
	g, problems := New([]events.Task{task("a"), task("b", "a", "a"), task("c", "a"), task("d", "c", "b")})
	require.Empty(t, problems)
	require.Equal(t, 4, g.Len())
	require.Equal(t, 4, g.Edges(), "duplicate dependency merged")
	i, ok := g.Index("d")
	require.True(t, ok)
	require.Equal(t, "d", g.ID(i))
	require.Equal(t, []int32{1, 2}, g.Parents(3))
	require.Equal(t, []int32{1, 2}, g.Children(0))
	_, ok = g.Index("zz")
	require.False(t, ok)
	require.Equal(t, []int32{0, 1, 2, 3}, g.Order())
}

func TestAnalyzeDiamond(t *testing.T) {
	t.Parallel()
	// a(10) -> b(30), c(20) -> d(5); the critical path is a, b, d = 45.
	g, problems := New([]events.Task{task("a"), task("b", "a"), task("c", "a"), task("d", "b", "c")})
	require.Empty(t, problems)
	a := Analyze(g, []float64{10, 30, 20, 5}, []float64{2, 1, 0.5, 1}, []int64{100, 200, 300, 400})
	require.Equal(t, []int32{0, 1, 1, 2}, a.Level)
	require.Equal(t, 3, a.Levels)
	require.Equal(t, []float64{0, 10, 10, 40}, a.Start)
	require.InDelta(t, 45, a.CriticalPathSeconds, 1e-12)
	require.Equal(t, []int32{0, 1, 3}, a.CriticalPath)
	require.Equal(t, []float64{45, 35, 25, 5}, a.UpwardRank)
	require.Equal(t, []float64{0, 0, 10, 0}, a.Slack)
	require.InDelta(t, 10*2+30+20*0.5+5, a.TotalWorkCoreSeconds, 1e-12)
	require.Equal(t, []WidthStep{
		{AtSeconds: 0, Tasks: 1, Cores: 2, MemoryBytes: 100},
		{AtSeconds: 10, Tasks: 2, Cores: 1.5, MemoryBytes: 500},
		{AtSeconds: 30, Tasks: 1, Cores: 1, MemoryBytes: 200},
		{AtSeconds: 40, Tasks: 1, Cores: 1, MemoryBytes: 400},
		{AtSeconds: 45, Tasks: 0, Cores: 0, MemoryBytes: 0},
	}, a.WidthProfile)
	require.Equal(t, 2, a.PeakWidth)
	require.InDelta(t, 2, a.PeakCores, 1e-12)
	require.Equal(t, int64(500), a.PeakMemoryBytes)
}

func TestAnalyzeEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tasks     []events.Task
		durations []float64
		wantCP    float64
		wantWidth int
		wantLevel int
	}{
		{name: "empty", wantLevel: 0},
		{name: "independent tasks", tasks: []events.Task{task("a"), task("b"), task("c")},
			durations: []float64{1, 2, 3}, wantCP: 3, wantWidth: 3, wantLevel: 1},
		{name: "zero and invalid durations", tasks: []events.Task{task("a"), task("b", "a")},
			durations: []float64{0, math.NaN()}, wantCP: 0, wantWidth: 0, wantLevel: 2},
		{name: "child starts when parent ends", tasks: []events.Task{task("a"), task("b", "a")},
			durations: []float64{1, 1}, wantCP: 2, wantWidth: 1, wantLevel: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, problems := New(tc.tasks)
			require.Empty(t, problems)
			if tc.durations == nil {
				tc.durations = []float64{}
			}
			a := Analyze(g, tc.durations, nil, nil)
			require.InDelta(t, tc.wantCP, a.CriticalPathSeconds, 1e-12)
			require.Equal(t, tc.wantWidth, a.PeakWidth)
			require.Equal(t, tc.wantLevel, a.Levels)
		})
	}
}

func TestAnalyzePanicsOnMisuse(t *testing.T) {
	t.Parallel()
	g, _ := New([]events.Task{task("a", "b"), task("b", "a")})
	require.Panics(t, func() { Analyze(g, []float64{1, 1}, nil, nil) })
	g, _ = New([]events.Task{task("a")})
	require.Panics(t, func() { Analyze(g, []float64{1, 2}, nil, nil) })
}

// TestAnalyzeMatchesBruteForce checks the analysis of random DAGs against direct
// definitions: longest path by relaxation to a fixed point, slack by enumerating delays.
func TestAnalyzeMatchesBruteForce(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 7))
			n := 2 + rng.IntN(40)
			tasks, durations := randomDAG(rng, n, 3)
			g, problems := New(tasks)
			require.Empty(t, problems)
			a := Analyze(g, durations, nil, nil)

			// Earliest finish by relaxation until nothing changes (Bellman–Ford style).
			finish := make([]float64, n)
			for changed := true; changed; {
				changed = false
				for i, tk := range tasks {
					est := 0.0
					for _, d := range tk.DependsOn {
						j, _ := g.Index(d)
						est = math.Max(est, finish[j])
					}
					if f := est + durations[i]; f != finish[i] {
						finish[i], changed = f, true
					}
				}
			}
			cp := 0.0
			for _, f := range finish {
				cp = math.Max(cp, f)
			}
			require.InDelta(t, cp, a.CriticalPathSeconds, 1e-9)

			// The reported critical path is a chain whose durations sum to the length.
			sum := 0.0
			for k, v := range a.CriticalPath {
				sum += durations[v]
				if k > 0 {
					require.Contains(t, g.Parents(int(v)), a.CriticalPath[k-1])
				}
			}
			require.InDelta(t, cp, sum, 1e-9)

			for i := range n {
				require.InDelta(t, finish[i]-durations[i], a.Start[i], 1e-9)
				require.GreaterOrEqual(t, a.Slack[i], 0.0)
				// Delaying a task by its slack keeps the makespan; by more lengthens it.
				require.InDelta(t, cp, makespanWithDelay(g, durations, i, a.Slack[i]), 1e-9)
				require.Greater(t, makespanWithDelay(g, durations, i, a.Slack[i]+1), cp+0.5)
			}

			// The width profile never exceeds the number of tasks and ends empty.
			last := a.WidthProfile[len(a.WidthProfile)-1]
			require.Equal(t, 0, last.Tasks)
			require.InDelta(t, cp, last.AtSeconds, 1e-9)
			require.LessOrEqual(t, a.PeakWidth, n)
		})
	}
}

func makespanWithDelay(g *Graph, durations []float64, task int, delay float64) float64 {
	finish := make([]float64, g.Len())
	ms := 0.0
	for _, v := range g.Order() {
		est := 0.0
		for _, p := range g.Parents(int(v)) {
			est = math.Max(est, finish[p])
		}
		if int(v) == task {
			est += delay
		}
		finish[v] = est + durations[v]
		ms = math.Max(ms, finish[v])
	}
	return ms
}

// randomDAG returns n tasks, each depending on up to deg random earlier tasks, with
// positive durations.
func randomDAG(rng *rand.Rand, n, deg int) ([]events.Task, []float64) {
	tasks := make([]events.Task, n)
	durations := make([]float64, n)
	for i := range tasks {
		tasks[i] = events.Task{ID: fmt.Sprint("t", i), CPU: 1}
		for k := 0; k < deg && i > 0; k++ {
			tasks[i].DependsOn = append(tasks[i].DependsOn, fmt.Sprint("t", rng.IntN(i)))
		}
		durations[i] = 1 + float64(rng.IntN(100))
	}
	// Shuffle so index order is not a topological order.
	rng.Shuffle(n, func(i, j int) {
		tasks[i], tasks[j] = tasks[j], tasks[i]
		durations[i], durations[j] = durations[j], durations[i]
	})
	return tasks, durations
}

func TestSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b events.Task
		same bool
	}{
		{name: "values differ, shape same",
			a: events.Task{Category: "bwa", Command: []string{"/usr/bin/bwa", "mem", "-t", "4", "ref.fa", "a.fq"}},
			b: events.Task{Category: "bwa", Command: []string{"bwa", "mem", "-t", "8", "ref.fa", "b.fq"}}, same: true},
		{name: "flag order and values do not matter",
			a: events.Task{Command: []string{"sort", "--key=2", "-n", "x"}},
			b: events.Task{Command: []string{"sort", "-n", "--key=1", "y", "z"}}, same: true},
		{name: "subcommand matters",
			a: events.Task{Command: []string{"bwa", "mem", "x"}},
			b: events.Task{Command: []string{"bwa", "index", "x"}}},
		{name: "flags matter",
			a: events.Task{Command: []string{"gzip", "-9", "x"}},
			b: events.Task{Command: []string{"gzip", "-d", "x"}}},
		{name: "negative numbers are values",
			a: events.Task{Command: []string{"shift", "-5"}},
			b: events.Task{Command: []string{"shift", "-7"}}, same: true},
		{name: "category matters",
			a: events.Task{Category: "fasterq-dump"},
			b: events.Task{Category: "bowtie2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := Signature("fam", tc.a), Signature("fam", tc.b)
			require.Equal(t, tc.same, sa == sb, "%q vs %q", sa, sb)
			require.Equal(t, sa, Signature("fam", tc.a), "stable")
			require.NotEqual(t, sa, Signature("other", tc.a), "family matters")
		})
	}
}

func TestSignatureBounded(t *testing.T) {
	t.Parallel()
	long := events.Task{Category: strings.Repeat("c", 500), Command: []string{"x"}}
	s := Signature("fam", long)
	require.LessOrEqual(t, len(s), maxSignatureLen)
	require.Equal(t, s, Signature("fam", long))
	other := long
	other.Category += "d"
	require.NotEqual(t, s, Signature("fam", other))
}
