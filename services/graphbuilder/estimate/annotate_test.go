package estimate

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"

	"github.com/foresight-run/foresight/services/graphbuilder/dag"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

func TestAnnotate(t *testing.T) {
	t.Parallel()
	w, err := spec.Parse([]byte(`
name: fan
family: fans
objective: {mode: fastest}
tasks:
  - {id: split, command: [split, -n, "4", in.txt], estimated_seconds: 10}
  - {id: work-1, command: [work, --part, "1"], depends_on: [split]}
  - {id: work-2, command: [work, --part, "2"], depends_on: [split], estimated_seconds: 5}
  - {id: replayed, replay_seconds: 99, depends_on: [split]}
  - {id: join, command: [join], depends_on: [work-1, work-2, replayed], estimated_seconds: 1}
`), spec.DefaultLimits())
	require.NoError(t, err)
	work := w.Tasks[1]
	h := MapHistory{
		Signatures: map[string]Stats{dag.Signature("fans", work): {Count: 4, MeanSeconds: 20}},
		Families:   map[string]Stats{"fans": {Count: 9, MeanSeconds: 3}},
	}

	tests := []struct {
		name        string
		opt         Options
		wantSources map[string]string
		wantCP      float64
		wantPath    []string
	}{
		{name: "service: no trace runtimes", opt: Options{GlobalPriorSeconds: 50},
			wantSources: map[string]string{"split": SourceUser, "work-1": SourceHistory, "work-2": SourceHistory,
				"replayed": SourceFamilyPrior, "join": SourceUser},
			wantCP: 10 + 20 + 1, wantPath: []string{"split", "work-1", "join"}},
		{name: "analysis of a trace", opt: Options{UseTraceRuntimes: true},
			wantSources: map[string]string{"split": SourceUser, "work-1": SourceHistory, "work-2": SourceHistory,
				"replayed": SourceTrace, "join": SourceUser},
			wantCP: 10 + 99 + 1, wantPath: []string{"split", "replayed", "join"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gb, a, err := Annotate("wf-1", w, h, tc.opt)
			require.NoError(t, err)
			require.Equal(t, "wf-1", gb.WorkflowID)
			require.Equal(t, "fans", gb.Family)
			require.Equal(t, "fastest", gb.Objective.Mode)
			require.Equal(t, 5, len(gb.Tasks))
			require.Equal(t, 6, gb.Edges)
			require.Equal(t, 3, gb.Levels)
			require.Equal(t, 3, gb.PeakWidth)
			require.InDelta(t, tc.wantCP, gb.CriticalPathSeconds, 1e-9)
			require.InDelta(t, a.CriticalPathSeconds, gb.CriticalPathSeconds, 0)
			require.Equal(t, tc.wantPath, gb.CriticalPath)
			seen := map[string]bool{}
			for _, gt := range gb.Tasks {
				for _, d := range gt.DependsOn {
					require.True(t, seen[d], "topological order: %s before %s", d, gt.ID)
				}
				seen[gt.ID] = true
				require.Equal(t, tc.wantSources[gt.ID], gt.EstimateSource, gt.ID)
				require.Equal(t, dag.Signature("fans", gt.Task), gt.Signature)
				onPath := false
				for _, id := range tc.wantPath {
					onPath = onPath || id == gt.ID
				}
				require.Equal(t, onPath, gt.OnCriticalPath, gt.ID)
				if onPath {
					require.InDelta(t, 0, gt.SlackSeconds, 1e-9)
				}
			}
		})
	}
}

func TestAnnotateRejectsAnInvalidGraph(t *testing.T) {
	t.Parallel()
	w := &spec.Workflow{Name: "x", Tasks: []events.Task{{ID: "a", DependsOn: []string{"a"}}}}
	_, _, err := Annotate("wf", w, nil, Options{})
	require.ErrorIs(t, err, spec.ErrInvalid)
}

func TestAnnotateZeroRuntimeTrace(t *testing.T) {
	t.Parallel()
	w, err := spec.Parse([]byte(`{"name": "t", "schemaVersion": "1.4", "workflow": {"tasks": [
		{"name": "a", "id": "1", "parents": [], "runtimeInSeconds": 0},
		{"name": "b", "id": "2", "parents": ["a"], "runtimeInSeconds": 4}]}}`), spec.DefaultLimits())
	require.NoError(t, err)
	gb, _, err := Annotate("wf", w, nil, Options{UseTraceRuntimes: true})
	require.NoError(t, err)
	require.InDelta(t, 4, gb.CriticalPathSeconds, 0)
	require.Equal(t, SourceTrace, gb.Tasks[0].EstimateSource)
	gb, _, err = Annotate("wf", w, nil, Options{GlobalPriorSeconds: 10})
	require.NoError(t, err)
	require.InDelta(t, 20, gb.CriticalPathSeconds, 0, "without trace runtimes both use the prior")
}
