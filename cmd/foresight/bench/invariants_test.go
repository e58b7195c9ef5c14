package bench

import (
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// checkExecution asserts what any correct execution satisfies: every task ran for its true
// runtime after all its parents, on a VM that was ready and not yet released, and no VM
// ever held more cores or memory than it has.
func checkExecution(t *testing.T, name string, s *sim) {
	t.Helper()
	for i, task := range s.tr.Tasks {
		require.True(t, s.doneTask[i], "%s: task %s finished", name, task.ID)
		require.InDelta(t, task.Runtime, s.finish[i]-s.start[i], 1e-6, "%s: %s ran its true runtime", name, task.ID)
		for _, p := range task.Parents {
			require.GreaterOrEqual(t, s.start[i], s.finish[p]-1e-9, "%s: %s after parent %s", name, task.ID, s.tr.Tasks[p].ID)
		}
		v := s.vms[s.vmOf[i]]
		require.False(t, v.cancelled, "%s: %s ran on a cancelled launch", name, task.ID)
		require.GreaterOrEqual(t, s.start[i], v.readyAt-1e-9, "%s: %s started on a ready VM", name, task.ID)
		require.LessOrEqual(t, s.finish[i], v.releaseAt+1e-9, "%s: %s finished before its VM was released", name, task.ID)
	}
	type edge struct {
		t     float64
		cores float64
		mem   int64
	}
	per := map[int][]edge{}
	for i, task := range s.tr.Tasks {
		per[s.vmOf[i]] = append(per[s.vmOf[i]], edge{s.start[i], task.CPU, task.Memory}, edge{s.finish[i], -task.CPU, -task.Memory})
	}
	for id, es := range per {
		sort.Slice(es, func(a, b int) bool {
			if es[a].t != es[b].t {
				return es[a].t < es[b].t
			}
			return es[a].cores < es[b].cores
		})
		var c float64
		var m int64
		for _, e := range es {
			c += e.cores
			m += e.mem
			require.LessOrEqual(t, c, s.vms[id].typ.Cores+1e-9, "%s: VM %d cores", name, id)
			require.LessOrEqual(t, m, s.vms[id].typ.MemoryBytes, "%s: VM %d memory", name, id)
		}
	}
	require.False(t, math.IsNaN(s.cost()))
}

func TestEveryPolicyExecutesCorrectly(t *testing.T) {
	t.Parallel()
	real, _, err := LoadDir("testdata/real")
	require.NoError(t, err)
	tiny, _, err := LoadDir("testdata/tiny")
	require.NoError(t, err)
	cat := catalog.Default()
	for _, tr := range append(tiny, real...) {
		for _, pol := range []string{PolicyReactiveCold, PolicyReactiveWarm, PolicyStaticPeak} {
			ex, err := executeBaseline(tr, pol, Options{Catalog: cat}, 3)
			require.NoError(t, err)
			checkExecution(t, tr.Name+" "+pol, ex.sim)
		}
		tests := []struct {
			name string
			dur  func(i int) float64
			opts Options
		}{
			{name: "oracle", dur: func(i int) float64 { return tr.Tasks[i].Runtime }, opts: Options{Catalog: cat}},
			{name: "underestimated 10x", dur: func(i int) float64 { return tr.Tasks[i].Runtime / 10 }, opts: Options{Catalog: cat}},
			{name: "overestimated 10x, no warm pool", dur: func(i int) float64 { return tr.Tasks[i].Runtime * 10 }, opts: Options{Catalog: cat, NoWarmPool: true}},
			{name: "underestimated, no re-plan", dur: func(i int) float64 { return tr.Tasks[i].Runtime / 10 }, opts: Options{Catalog: cat, NoReplan: true}},
			{name: "oracle, production scale-in", dur: func(i int) float64 { return tr.Tasks[i].Runtime }, opts: Options{Catalog: cat, ScaleIn: true}},
			{name: "overestimated 3x, production scale-in", dur: func(i int) float64 { return tr.Tasks[i].Runtime * 3 }, opts: Options{Catalog: cat, ScaleIn: true}},
		}
		for _, tc := range tests {
			dur := make([]float64, len(tr.Tasks))
			for i := range dur {
				dur[i] = tc.dur(i)
			}
			truth := oracleLive(tr)
			ex, err := executePlanned(tr, defaultPlanMaker, dur, oracleAction(), tc.opts, 3, truth)
			require.NoError(t, err, "%s %s", tr.Name, tc.name)
			checkExecution(t, tr.Name+" "+tc.name, ex.sim)
			require.GreaterOrEqual(t, ex.makespan, makespanLowerBound(tr, cat, ex.hotAtStart)-1e-6)
			require.GreaterOrEqual(t, ex.cost, costLowerBound(tr, cat)-1e-12)
			if tc.opts.NoReplan {
				require.Zero(t, ex.replans)
			}
			if tc.opts.ScaleIn {
				again, err := executePlanned(tr, defaultPlanMaker, dur, oracleAction(), tc.opts, 3, truth)
				require.NoError(t, err)
				require.Equal(t, ex.makespan, again.makespan, "%s %s: same seed, same run", tr.Name, tc.name)
				require.Equal(t, ex.cost, again.cost, "%s %s: same seed, same run", tr.Name, tc.name)
				require.Equal(t, ex.sim.vmOf, again.sim.vmOf)
			}
		}
	}
}

func TestDriftTriggersReplan(t *testing.T) {
	t.Parallel()
	real, _, err := LoadDir("testdata/real")
	require.NoError(t, err)
	cat := catalog.Default()
	replans := 0
	for _, tr := range real {
		dur := make([]float64, len(tr.Tasks))
		for i := range dur {
			dur[i] = tr.Tasks[i].Runtime * 5 // a pessimistic forecast: tasks finish far early
		}
		truth := oracleLive(tr)
		with, err := executePlanned(tr, defaultPlanMaker, dur, oracleAction(), Options{Catalog: cat}, 1, truth)
		require.NoError(t, err)
		require.LessOrEqual(t, with.replans, MaxReplans)
		replans += with.replans
	}
	require.Positive(t, replans, "tasks finishing far from plan must re-plan")
}
