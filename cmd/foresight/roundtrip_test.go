package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// shared locates ../shared beside the repository (as CI lays it out).
func shared(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found beside the repository", p)
	}
	return p
}

// TestWfFormatRoundTrip submits a real WfCommons trace, runs it for real (each task
// replays its recorded runtime, scaled down), exports the executed workflow as WfFormat
// 1.5 with the measured runtimes, and validates the export against the official schema.
func TestWfFormatRoundTrip(t *testing.T) {
	t.Parallel()
	trace, err := os.ReadFile(shared(t, "traces/pegasus/seismology/seismology-chameleon-100p-001.json"))
	require.NoError(t, err)
	s := setup(t, "FORESIGHT_REPLAY_SCALE", "0.02")
	code, sub := submit(t, s.api, string(trace))
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["id"].(string)
	require.Equal(t, "succeeded", waitStatus(t, s.api, id, 120*time.Second)["status"])

	resp, err := http.Get(s.api + "/v1/workflows/" + id + "/wfformat")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	f, err := os.Open(shared(t, "wfformat/schema-1.5.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	delete(doc.(map[string]any), "$schema") // "http://json-schema.org/schema#": written as draft-07
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	require.NoError(t, c.AddResource("wfformat-1.5.json", doc))
	sch, err := c.Compile("wfformat-1.5.json")
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(inst), "the export validates against the official WfFormat 1.5 schema")

	var exported struct {
		Workflow struct {
			Specification struct {
				Tasks []struct {
					ID string `json:"id"`
				} `json:"tasks"`
			} `json:"specification"`
			Execution struct {
				Tasks []struct {
					ID               string  `json:"id"`
					RuntimeInSeconds float64 `json:"runtimeInSeconds"`
				} `json:"tasks"`
			} `json:"execution"`
		} `json:"workflow"`
	}
	require.NoError(t, json.Unmarshal(out, &exported))
	require.Len(t, exported.Workflow.Specification.Tasks, 101)
	require.Len(t, exported.Workflow.Execution.Tasks, 101, "every task ran and was measured")
	for _, task := range exported.Workflow.Execution.Tasks {
		require.Positive(t, task.RuntimeInSeconds, "task %s has its measured runtime", task.ID)
	}
}
