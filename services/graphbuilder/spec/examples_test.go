package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// nativeSchema compiles docs/schemas/workflow.schema.json, the published schema of the
// native format.
func nativeSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(repoFile(t, "docs/schemas/workflow.schema.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("workflow.schema.json", doc))
	sch, err := c.Compile("workflow.schema.json")
	require.NoError(t, err)
	return sch
}

// asJSONValue turns a JSON or YAML document into the value tree the schema validator
// expects.
func asJSONValue(t testing.TB, data []byte) any {
	t.Helper()
	var tree any
	require.NoError(t, yaml.Unmarshal(data, &tree))
	js, err := json.Marshal(tree)
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	require.NoError(t, err)
	return v
}

func TestExamplesParseAndMatchTheSchema(t *testing.T) {
	t.Parallel()
	sch := nativeSchema(t)
	files, err := filepath.Glob(repoFile(t, "examples/spec/*"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			w, err := Parse(data, DefaultLimits())
			require.NoError(t, err)
			require.Equal(t, FormatNative, w.Format)
			require.NoError(t, sch.Validate(asJSONValue(t, data)))
		})
	}
}

// The schema and the parser agree on what is wrong, for what a schema can express.
func TestSchemaAndParserRejectTheSame(t *testing.T) {
	t.Parallel()
	sch := nativeSchema(t)
	tests := []struct {
		name string
		body string
	}{
		{name: "unknown top-level field", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"]}], "extra": 1}`},
		{name: "unknown task field", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"], "cpus": 1}]}`},
		{name: "no tasks", body: `{"name": "x", "tasks": []}`},
		{name: "no name", body: `{"tasks": [{"id": "a", "command": ["t"]}]}`},
		{name: "command as a string", body: `{"name": "x", "tasks": [{"id": "a", "command": "echo hi"}]}`},
		{name: "no command", body: `{"name": "x", "tasks": [{"id": "a"}]}`},
		{name: "empty program", body: `{"name": "x", "tasks": [{"id": "a", "command": [""]}]}`},
		{name: "zero cpu", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"], "cpu": 0}]}`},
		{name: "cpu above the largest instance", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"], "cpu": 193}]}`},
		{name: "bad memory unit", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"], "memory": "3 parsecs"}]}`},
		{name: "fractional retries", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"], "retries": 1.5}]}`},
		{name: "bad mode", body: `{"name": "x", "objective": {"mode": "cheap"}, "tasks": [{"id": "a", "command": ["t"]}]}`},
		{name: "id with a space", body: `{"name": "x", "tasks": [{"id": "a b", "command": ["t"]}]}`},
		{name: "env value not a string", body: `{"name": "x", "tasks": [{"id": "a", "command": ["t"], "env": {"A": 1}}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.body), DefaultLimits())
			require.ErrorIs(t, err, ErrInvalid)
			require.Error(t, sch.Validate(asJSONValue(t, []byte(tc.body))))
		})
	}
}
