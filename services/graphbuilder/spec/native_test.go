package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
)

const diamondJSON = `{
  "name": "diamond",
  "family": "diamonds",
  "objective": {"mode": "cheapest", "deadline_seconds": 3600, "budget_usd": 2.5, "lambda": 0.001},
  "tasks": [
    {"id": "a", "command": ["/bin/prepare", "--in", "x.csv"], "cpu": 0.5, "memory": "512Mi",
     "env": {"LANG": "C"}, "dir": "/tmp", "estimated_seconds": 12.5, "retries": 2, "timeout_seconds": 60,
     "labels": {"team": "bio"}},
    {"id": "b", "command": ["work", "1"], "depends_on": ["a"], "memory": 1073741824, "category": "work"},
    {"id": "c", "command": ["work", "2"], "depends_on": ["a"], "memory": "2G"},
    {"id": "d", "command": ["merge"], "depends_on": ["b", "c"]}
  ]
}`

const diamondYAML = `
name: diamond
family: diamonds
objective: {mode: cheapest, deadline_seconds: 3600, budget_usd: 2.5, lambda: 0.001}
tasks:
  - id: a
    command: [/bin/prepare, --in, x.csv]
    cpu: 0.5
    memory: 512Mi
    env: {LANG: C}
    dir: /tmp
    estimated_seconds: 12.5
    retries: 2
    timeout_seconds: 60
    labels: {team: bio}
  - {id: b, command: [work, "1"], depends_on: [a], memory: 1073741824, category: work}
  - {id: c, command: [work, "2"], depends_on: [a], memory: 2G}
  - {id: d, command: [merge], depends_on: [b, c]}
`

func TestParseNativeJSONAndYAMLAgree(t *testing.T) {
	t.Parallel()
	fromJSON := mustParse(t, diamondJSON)
	fromYAML := mustParse(t, diamondYAML)
	require.Equal(t, fromJSON, fromYAML)

	w := fromJSON
	require.Equal(t, FormatNative, w.Format)
	require.Equal(t, "diamond", w.Name)
	require.Equal(t, "diamonds", w.Family)
	require.Equal(t, "cheapest", w.Objective.Mode)
	require.InDelta(t, 3600, *w.Objective.DeadlineSeconds, 0)
	require.InDelta(t, 2.5, *w.Objective.BudgetUSD, 0)
	require.InDelta(t, 0.001, *w.Objective.Lambda, 0)
	require.Equal(t, events.Task{
		ID: "a", Command: []string{"/bin/prepare", "--in", "x.csv"}, Env: map[string]string{"LANG": "C"},
		Dir: "/tmp", CPU: 0.5, MemoryBytes: 512 << 20, EstimatedSeconds: 12.5, Retries: 2,
		TimeoutSeconds: 60, Labels: map[string]string{"team": "bio"}, Category: "prepare",
	}, w.Tasks[0])
	require.Equal(t, int64(1<<30), w.Tasks[1].MemoryBytes)
	require.Equal(t, int64(2e9), w.Tasks[2].MemoryBytes)
	require.Equal(t, []string{"b", "c"}, w.Tasks[3].DependsOn)
}

func TestParseNativeDefaults(t *testing.T) {
	t.Parallel()
	w := mustParse(t, `{"name": "one", "tasks": [{"id": "x", "command": ["true"]}]}`)
	require.Equal(t, "one", w.Family, "family defaults to the name")
	require.Equal(t, ModeBalanced, w.Objective.Mode)
	require.Nil(t, w.Objective.DeadlineSeconds)
	tk := w.Tasks[0]
	require.InDelta(t, DefaultCPU, tk.CPU, 0)
	require.Equal(t, DefaultMemoryBytes, tk.MemoryBytes)
	require.Equal(t, "true", tk.Category, "category defaults to the program")

	replay := mustParse(t, "name: r\ntasks:\n- {id: x, replay_seconds: 3}\n")
	require.Equal(t, []string{ReplayCommand}, replay.Tasks[0].Command)
	require.InDelta(t, 3, replay.Tasks[0].ReplaySeconds, 0)
}

func TestParseMemory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want int64
		bad  bool
	}{
		{name: "bytes", in: "1048576", want: 1 << 20},
		{name: "Mi", in: "512Mi", want: 512 << 20},
		{name: "Gi", in: "2Gi", want: 2 << 30},
		{name: "GiB", in: "1.5GiB", want: 3 << 29},
		{name: "G", in: "2G", want: 2e9},
		{name: "GB", in: "2GB", want: 2e9},
		{name: "k", in: "4k", want: 4000},
		{name: "Ki", in: "4Ki", want: 4096},
		{name: "Ti", in: "1.5Ti", want: 3 << 39},
		{name: "space", in: " 3 M ", want: 3e6},
		{name: "fraction rounds up", in: "1.0000001", want: 2},
		{name: "no number", in: "Gi", bad: true},
		{name: "unknown unit", in: "3 parsecs", bad: true},
		{name: "negative", in: "-1Gi", bad: true},
		{name: "two dots", in: "1.2.3Mi", bad: true},
		{name: "huge", in: "99999999999Pi", bad: true},
		{name: "empty", in: "", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMemory(tc.in)
			if tc.bad {
				require.ErrorIs(t, err, ErrQuantity)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	type want struct{ task, field, reason string }
	tests := []struct {
		name string
		body string
		want []want
	}{
		{name: "syntax error names the line", body: "{\"name\": \"x\",\n \"tasks\": [}",
			want: []want{{"", "body", "line 2"}}},
		{name: "yaml syntax error", body: "name: [x\n", want: []want{{"", "body", "invalid YAML"}}},
		{name: "not an object", body: `- a`, want: []want{{"", "body", "must be an object"}}},
		{name: "empty document", body: "  \n", want: []want{{"", "body", "empty document"}}},
		{name: "empty workflow", body: `{"name": "x", "tasks": []}`, want: []want{{"", "tasks", "no tasks"}}},
		{name: "missing name and tasks", body: `{}`,
			want: []want{{"", "tasks", "required"}, {"", "name", "required"}}},
		{name: "unknown fields", body: `{"name": "x", "colour": 1, "objective": {"mood": "x"},
			"tasks": [{"id": "a", "command": ["t"], "cpus": 2}]}`,
			want: []want{{"", "colour", "unknown field"}, {"", "objective.mood", "unknown field"},
				{"a", "tasks[0].cpus", "unknown field"}}},
		{name: "wrong types", body: `{"name": 3, "tasks": [{"id": "a", "command": "echo hi", "cpu": "two",
			"memory": "lots", "env": {"A": 1}, "depends_on": "b", "retries": 1.5, "labels": []}]}`,
			want: []want{{"", "name", "must be a string"}, {"a", "tasks[0].command", "argv array"},
				{"a", "tasks[0].env.A", "must be a string"}, {"a", "tasks[0].cpu", "must be a number"},
				{"a", "tasks[0].memory", "invalid memory quantity"}, {"a", "tasks[0].retries", "whole number"},
				{"a", "tasks[0].depends_on", "array of strings"}, {"a", "tasks[0].labels", "object of strings"}}},
		{name: "yaml numbers where strings belong", body: "name: x\ntasks:\n- {id: 1, command: [sleep, 10]}\n",
			want: []want{{"", "tasks[0].id", `got 1 (quote it: "1")`}, {"", "tasks[0].command[1]", `quote it: "10"`}}},
		{name: "bad values", body: `{"name": "x", "objective": {"mode": "cheap", "budget_usd": -1, "deadline_seconds": 0, "lambda": -2},
			"tasks": [{"id": "a", "command": ["t"], "cpu": 0, "memory": 0, "estimated_seconds": -1, "timeout_seconds": -1,
			"retries": -1, "env": {"A=B": "x"}},
			{"id": "b", "command": [""], "cpu": 400, "memory": "2Ti"}, {"id": "c d", "command": ["t"]}, {"command": ["t"]}]}`,
			want: []want{{"", "objective.mode", "not one of"}, {"", "objective.lambda", ">= 0"},
				{"", "objective.deadline_seconds", "> 0"}, {"", "objective.budget_usd", "> 0"},
				{"a", "tasks[0].cpu", "> 0"}, {"a", "tasks[0].memory", "> 0"},
				{"a", "tasks[0].estimated_seconds", ">= 0"}, {"a", "tasks[0].timeout_seconds", ">= 0"},
				{"a", "tasks[0].retries", "between"}, {"a", "tasks[0].env", "variable name"},
				{"b", "tasks[1].cpu", "largest instance"}, {"b", "tasks[1].memory", "largest instance"},
				{"b", "tasks[1].command[0]", "must not be empty"},
				{"c d", "tasks[2].id", "without spaces"}, {"", "tasks[3].id", "required"}}},
		{name: "graph problems", body: `{"name": "x", "tasks": [
			{"id": "a", "command": ["t"], "depends_on": ["a", "ghost"]},
			{"id": "a", "command": ["t"]},
			{"id": "b", "command": ["t"], "depends_on": ["d"]}, {"id": "c", "command": ["t"], "depends_on": ["b"]},
			{"id": "d", "command": ["t"], "depends_on": ["c"]}]}`,
			want: []want{{"a", "tasks[1].id", "duplicate"}, {"a", "tasks[0].depends_on", "itself"},
				{"a", "tasks[0].depends_on", `unknown dependency "ghost"`},
				{"b", "tasks[2].depends_on", "cycle: b -> c -> d -> b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			se := problemsOf(t, tc.body, DefaultLimits())
			require.False(t, se.TooLarge)
			require.ErrorIs(t, se, ErrInvalid)
			require.NotErrorIs(t, se, ErrTooLarge)
			got := make([]string, len(se.Problems))
			for i, p := range se.Problems {
				got[i] = fmt.Sprintf("%s|%s|%s", p.Task, p.Field, p.Reason)
			}
			require.Len(t, se.Problems, len(tc.want), "%s", strings.Join(got, "\n"))
			for i, w := range tc.want {
				p := se.Problems[i]
				require.Equal(t, w.task, p.Task, got[i])
				require.Equal(t, w.field, p.Field, got[i])
				require.Contains(t, p.Reason, w.reason, got[i])
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	small := Limits{MaxTasks: 2, MaxEdges: 1, MaxBodyBytes: 4096, MaxDepth: 5, MaxStringLen: 10}
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{name: "body", body: `{"name": "x", "tasks": [` + strings.Repeat(" ", 5000) + `]}`, field: "body"},
		{name: "tasks", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"]}, {"id": "b", "command": ["t"]}, {"id": "c", "command": ["t"]}]}`, field: "tasks"},
		{name: "edges", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"]}, {"id": "b", "command": ["t"], "depends_on": ["a", "a"]}]}`, field: "tasks"},
		{name: "depth json", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"], "labels": {"a": [[[[1]]]]}}]}`, field: "body"},
		{name: "depth yaml", body: "name: x\ntasks:\n- id: a\n  labels: {a: [[[[1]]]]}\n", field: "body"},
		{name: "string", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t", "01234567890"]}]}`, field: "tasks[0].command[1]"},
		{name: "id length", body: `{"name": "x", "tasks": [{"id": "` + strings.Repeat("i", 300) + `", "command": ["t"]}]}`, field: "tasks[0].id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim := small
			if tc.name == "id length" {
				lim.MaxStringLen = 1000
			}
			se := problemsOf(t, tc.body, lim)
			require.True(t, se.TooLarge, "%v", se.Problems)
			require.ErrorIs(t, se, ErrTooLarge)
			require.Equal(t, tc.field, se.Problems[0].Field)
		})
	}
}

func TestDefaultLimitsAreFilled(t *testing.T) {
	t.Parallel()
	require.Equal(t, DefaultLimits(), Limits{}.withDefaults())
	require.InDelta(t, 192, DefaultLimits().MaxTaskCPU, 0)
	require.Equal(t, int64(1536)<<30, DefaultLimits().MaxTaskMemoryBytes)
	custom := Limits{MaxTasks: 7}.withDefaults()
	require.Equal(t, 7, custom.MaxTasks)
	require.Equal(t, DefaultMaxEdges, custom.MaxEdges)
}

func TestProblemListIsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"name": "x", "tasks": [`)
	for i := range 1500 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id": "t%d", "command": ["t"], "cpu": -1}`, i)
	}
	b.WriteString("]}")
	se := problemsOf(t, b.String(), DefaultLimits())
	require.Len(t, se.Problems, maxProblems+1)
	require.Contains(t, se.Problems[maxProblems].Reason, "500 more problems")
}

func TestValidateDirect(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, Validate(nil, Limits{}), ErrInvalid)
	w := mustParse(t, diamondJSON)
	require.NoError(t, Validate(w, Limits{}))
	w.Tasks[0].CPU = 1e9
	err := Validate(w, Limits{})
	var se *Error
	require.True(t, errors.As(err, &se))
	require.Contains(t, err.Error(), `task "a" tasks[0].cpu`)
}
