package completion

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	chain := []Task{{ID: "a", Retries: 1}, {ID: "b", Parents: []string{"a"}}, {ID: "c", Parents: []string{"b"}}, {ID: "x"}}
	tests := []struct {
		name   string
		latest map[string]Outcome
		want   Result
	}{
		{name: "nothing observed", latest: map[string]Outcome{}, want: Result{}},
		{name: "all succeeded", latest: map[string]Outcome{"a": {true, 1}, "b": {true, 1}, "c": {true, 1}, "x": {true, 1}},
			want: Result{Complete: true, Succeeded: true, Done: 4}},
		{name: "a failure with retries left is not final", latest: map[string]Outcome{"a": {false, 1}, "x": {true, 1}},
			want: Result{Done: 1}},
		{name: "final failure blocks descendants and completes", latest: map[string]Outcome{"a": {false, 2}, "x": {true, 1}},
			want: Result{Complete: true, Failed: 1, Blocked: 2, Done: 1}},
		{name: "independent branch still running", latest: map[string]Outcome{"a": {false, 2}},
			want: Result{Failed: 1, Blocked: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Evaluate(chain, tc.latest))
		})
	}
}
