package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/pkg/testenv"
)

// stack is the whole system in one process on a real Postgres database and a real
// (embedded) JetStream server, as `foresight dev` runs it.
type stack struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	api     string
	workDir string
}

func setup(t testing.TB, env ...string) stack {
	t.Helper()
	dbURL, pool := testenv.Database(t)
	natsURL, _, js := testenv.JetStream(t)
	workDir := t.TempDir()
	vars := map[string]string{
		"FORESIGHT_DATABASE_URL": dbURL, "FORESIGHT_NATS_URL": natsURL, "FORESIGHT_WORK_DIR": workDir,
		"FORESIGHT_ACK_WAIT": "5s", "FORESIGHT_LOCAL_CORES": "4",
	}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := service.LoadConfig(func(k string) string { return vars[k] })
	require.NoError(t, err)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	rt, err := service.Open(ctx, cfg, log)
	require.NoError(t, err)
	comps, api, err := startServices(ctx, rt)
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		for i := len(comps) - 1; i >= 0; i-- {
			comps[i].Stop()
		}
		rt.Close()
	})
	return stack{pool: pool, js: js, api: srv.URL, workDir: workDir}
}

// tenTaskDAG is a diamond-heavy DAG of real shell commands. Each task appends its id to
// runs.log in the workflow's work dir, so the test can count executions.
func tenTaskDAG(log string) string {
	deps := map[string][]string{
		"t01": nil, "t02": {"t01"}, "t03": {"t01"}, "t04": {"t01"}, "t05": {"t02", "t03"},
		"t06": {"t03", "t04"}, "t07": {"t05"}, "t08": {"t06"}, "t09": {"t07", "t08"}, "t10": {"t09", "t04"},
	}
	var b strings.Builder
	b.WriteString(`{"name": "e2e-ten", "tasks": [`)
	for i := 1; i <= 10; i++ {
		id := fmt.Sprintf("t%02d", i)
		d, _ := json.Marshal(deps[id])
		if deps[id] == nil {
			d = []byte("[]")
		}
		if i > 1 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id": %q, "command": ["sh", "-c", "echo %s >> %s; sleep 0.1"], "cpu": 0.5, "memory": "32Mi", "depends_on": %s}`,
			id, id, log, d)
	}
	b.WriteString("]}")
	return b.String()
}

func submit(t testing.TB, api, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(api+"/v1/workflows", "application/json", bytes.NewBufferString(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func waitStatus(t testing.TB, api, id string, timeout time.Duration) map[string]any {
	t.Helper()
	var st map[string]any
	require.Eventually(t, func() bool {
		resp, err := http.Get(api + "/v1/workflows/" + id)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st = nil
		_ = json.NewDecoder(resp.Body).Decode(&st)
		s, _ := st["status"].(string)
		return s == "succeeded" || s == "failed" || s == "rejected"
	}, timeout, 100*time.Millisecond, "workflow %s did not finish: %v", id, st)
	return st
}

func TestEndToEndTenTaskDAG(t *testing.T) {
	t.Parallel()
	s := setup(t)
	runs := filepath.Join(t.TempDir(), "runs.log")
	code, sub := submit(t, s.api, tenTaskDAG(runs))
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["id"].(string)

	st := waitStatus(t, s.api, id, 60*time.Second)
	require.Equal(t, "succeeded", st["status"], st)

	// Each task ran exactly once.
	raw, err := os.ReadFile(runs)
	require.NoError(t, err)
	counts := map[string]int{}
	for _, line := range strings.Fields(string(raw)) {
		counts[line]++
	}
	require.Len(t, counts, 10)
	for task, n := range counts {
		require.Equal(t, 1, n, "task %s ran %d times", task, n)
	}

	// Its observations are in Postgres, measured.
	var n int
	var minRuntime float64
	require.NoError(t, s.pool.QueryRow(context.Background(),
		`SELECT count(*), min(runtime_seconds) FROM task_observations WHERE workflow_id = $1 AND status = 'succeeded'`, id).Scan(&n, &minRuntime))
	require.Equal(t, 10, n)
	require.Greater(t, minRuntime, 0.05, "each task sleeps 0.1 s")

	// The five core events were published for it, in causal order, as read back from the
	// stream itself.
	ctx := context.Background()
	cons, err := s.js.OrderedConsumer(ctx, "FORESIGHT", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"foresight.*.*." + id}})
	require.NoError(t, err)
	first := map[events.Type]uint64{}
	perType := map[events.Type]int{}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			break
		}
		env, err := events.Decode(msg.Data())
		require.NoError(t, err)
		require.NoError(t, events.ValidateEnvelope(msg.Data()), "event %s violates its schema", env.Type)
		meta, err := msg.Metadata()
		require.NoError(t, err)
		if _, ok := first[env.Type]; !ok {
			first[env.Type] = meta.Sequence.Stream
		}
		perType[env.Type]++
	}
	core := []events.Type{events.TypeGraphBuilt, events.TypeDemandPredicted, events.TypePlanReady, events.TypeVMProvisioned, events.TypeTaskObserved}
	for i, typ := range core {
		require.Contains(t, first, typ, "no %s event", typ)
		if i > 0 {
			require.Less(t, first[core[i-1]], first[typ], "%s must precede %s", core[i-1], typ)
		}
	}
	require.Equal(t, 10, perType[events.TypeTaskObserved])
	require.Equal(t, 10, perType[events.TypeTaskDispatched])
	require.Equal(t, 1, perType[events.TypeWorkflowCompleted])
}

func TestInvalidDAGIsRejectedAndNothingStored(t *testing.T) {
	t.Parallel()
	s := setup(t)
	tests := []struct {
		name      string
		body      string
		wantTasks []string
	}{
		{name: "cycle", body: `{"name":"bad","tasks":[{"id":"a","command":["true"],"depends_on":["c"]},{"id":"b","command":["true"],"depends_on":["a"]},{"id":"c","command":["true"],"depends_on":["b"]}]}`, wantTasks: []string{"a"}},
		{name: "unknown parent", body: `{"name":"bad","tasks":[{"id":"a","command":["true"],"depends_on":["ghost"]}]}`, wantTasks: []string{"a"}},
		{name: "duplicate id", body: `{"name":"bad","tasks":[{"id":"a","command":["true"]},{"id":"a","command":["true"]}]}`, wantTasks: []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(s.api+"/v1/workflows", "application/json", strings.NewReader(tc.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			var p struct {
				Status   int              `json:"status"`
				Problems []events.Problem `json:"problems"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
			require.Equal(t, 422, p.Status)
			var named []string
			for _, pr := range p.Problems {
				named = append(named, pr.Task)
			}
			for _, want := range tc.wantTasks {
				require.Contains(t, named, want, "problems must name the offending task: %+v", p.Problems)
			}
		})
	}
	var workflows, outbox int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM workflows), (SELECT count(*) FROM outbox)`).Scan(&workflows, &outbox))
	require.Zero(t, workflows, "a rejected submission stores nothing")
	require.Zero(t, outbox, "a rejected submission publishes nothing")
}

func TestIdempotencyKeyReturnsTheSameWorkflow(t *testing.T) {
	t.Parallel()
	s := setup(t)
	body := `{"name":"idem","tasks":[{"id":"a","command":["true"]}]}`
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.api+"/v1/workflows", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", "k-1")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out["id"].(string)
	}
	c1, id1 := post()
	c2, id2 := post()
	require.Equal(t, http.StatusAccepted, c1)
	require.Equal(t, http.StatusOK, c2)
	require.Equal(t, id1, id2)
	require.Equal(t, "succeeded", waitStatus(t, s.api, id1, 30*time.Second)["status"])
}

// TestDriftTriggersReplan: a task that runs far past its predicted band makes the monitor
// ask for a re-plan, and the allocator records plan version 2 for the unfinished rest.
// The rest must still be unfinished when the request arrives, so "after" runs for seconds:
// when it was instant, a loaded machine sometimes finished the workflow first, and a done
// workflow is rightly not re-planned.
func TestDriftTriggersReplan(t *testing.T) {
	t.Parallel()
	s := setup(t)
	body := `{"name":"drift","tasks":[
		{"id":"slow","command":["sleep","2.5"],"estimated_seconds":0.5,"cpu":1,"memory":"16Mi"},
		{"id":"after","command":["sleep","5"],"estimated_seconds":5,"cpu":1,"memory":"16Mi","depends_on":["slow"]}]}`
	code, sub := submit(t, s.api, body)
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["id"].(string)
	require.Equal(t, "succeeded", waitStatus(t, s.api, id, 60*time.Second)["status"])

	var versions int
	var reason string
	require.NoError(t, s.pool.QueryRow(context.Background(),
		`SELECT count(*), max(reason) FROM plans WHERE workflow_id = $1`, id).Scan(&versions, &reason))
	require.Equal(t, 2, versions, "the drift must produce a second plan version")
	require.Contains(t, reason, "slow")
	var v1, v2 int
	require.NoError(t, s.pool.QueryRow(context.Background(),
		`SELECT min(version), max(version) FROM plans WHERE workflow_id = $1`, id).Scan(&v1, &v2))
	require.Equal(t, []int{1, 2}, []int{v1, v2}, "every version is kept")
}

// TestEventStream follows a workflow over Server-Sent Events from submission to the end:
// the stream carries its lifecycle in order and closes once it finished.
func TestEventStream(t *testing.T) {
	t.Parallel()
	s := setup(t)
	code, sub := submit(t, s.api, `{"name":"sse","tasks":[{"id":"a","command":["true"]},{"id":"b","command":["true"],"depends_on":["a"]}]}`)
	require.Equal(t, http.StatusAccepted, code, sub)
	req, err := http.NewRequest(http.MethodGet, s.api+"/v1/workflows/"+sub["id"].(string)+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body) // returns when the server ends the stream
	require.NoError(t, err)
	var types []string
	for _, line := range strings.Split(string(body), "\n") {
		if t, ok := strings.CutPrefix(line, "event: "); ok {
			types = append(types, t)
		}
	}
	require.NotEmpty(t, types)
	// The gateway projects each event type on its own consumer, so the stream is in arrival
	// order; causal order is checked on JetStream itself in TestEndToEndTenTaskDAG.
	require.Contains(t, types, string(events.TypeWorkflowSubmitted))
	require.Contains(t, types, string(events.TypeWorkflowCompleted), "the stream ends once the workflow finished: %v", types)
	require.Contains(t, types, string(events.TypeGraphBuilt))
	require.Contains(t, types, string(events.TypePlanReady))
}

// TestLostEventIsReEmitted models JetStream acknowledging an event and then losing it
// (Jepsen, NATS 2.12.1): the submission's outbox row is marked published but the event
// never reaches the stream. The reconciler finds the stalled workflow and re-emits its
// events, and the workflow completes.
func TestLostEventIsReEmitted(t *testing.T) {
	t.Parallel()
	s := setup(t, "FORESIGHT_STALL_AFTER", "1s")
	ctx := context.Background()
	id := "00000000-0000-0000-0000-00000000d0d0"
	tasks := []events.Task{{ID: "only", Command: []string{"true"}, CPU: 0.5, MemoryBytes: 16 << 20}}
	spec, _ := json.Marshal(tasks)
	now := time.Now()
	require.NoError(t, pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO workflows (id, name, family, status, spec, submitted_at) VALUES ($1, 'lost', 'lost', 'submitted', $2, $3)`,
			id, spec, now); err != nil {
			return err
		}
		ev := events.WorkflowSubmitted{WorkflowID: id, Name: "lost", Family: "lost", Tasks: tasks, SubmittedAt: now}
		if err := outbox.Emit(ctx, tx, "5b0e1c7a-0000-4000-8000-00000000d0d0", "test", id, now, ev); err != nil {
			return err
		}
		// Acknowledged, then lost: the relay believes it published the event.
		_, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now()`)
		return err
	}))
	require.Equal(t, "succeeded", waitStatus(t, s.api, id, 60*time.Second)["status"])
	var count int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count FROM reconciliations WHERE workflow_id = $1`, id).Scan(&count))
	require.GreaterOrEqual(t, count, 1)
}

// TestFailureRetriesThenBlocksDescendants: a failing task is retried as its spec allows,
// then fails for good; its descendants (two levels) never run and are upstream_failed, an
// independent branch still runs, and the workflow fails.
func TestFailureRetriesThenBlocksDescendants(t *testing.T) {
	t.Parallel()
	s := setup(t)
	body := `{"name":"failing","tasks":[
		{"id":"bad","command":["sh","-c","exit 3"],"retries":1,"cpu":0.5,"memory":"16Mi"},
		{"id":"child","command":["true"],"depends_on":["bad"],"cpu":0.5,"memory":"16Mi"},
		{"id":"grandchild","command":["true"],"depends_on":["child"],"cpu":0.5,"memory":"16Mi"},
		{"id":"ok","command":["true"],"cpu":0.5,"memory":"16Mi"}]}`
	code, sub := submit(t, s.api, body)
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["id"].(string)
	st := waitStatus(t, s.api, id, 60*time.Second)
	require.Equal(t, "failed", st["status"])
	states := map[string]string{}
	attempts := map[string]float64{}
	for _, raw := range st["tasks"].([]any) {
		task := raw.(map[string]any)
		states[task["id"].(string)] = task["state"].(string)
		attempts[task["id"].(string)] = task["attempt"].(float64)
	}
	require.Equal(t, map[string]string{"bad": "failed", "child": "upstream_failed", "grandchild": "upstream_failed", "ok": "succeeded"}, states)
	require.Equal(t, 2.0, attempts["bad"], "one retry")
	var ran int
	require.NoError(t, s.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM agent_runs WHERE workflow_id = $1 AND task_id IN ('child', 'grandchild')`, id).Scan(&ran))
	require.Zero(t, ran, "blocked tasks never run")
}

// A workflow whose forecast could never cross the event bus is refused at the door with
// 413 and a problem naming the tasks, instead of being accepted and left stuck.
func TestWorkflowTooLargeForTheBusIsRefused(t *testing.T) {
	t.Parallel()
	s := setup(t)
	var b strings.Builder
	b.WriteString(`{"name":"wide-args","tasks":[`)
	arg := strings.Repeat("x", 60<<10)
	for i := range 150 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"t%03d","command":["echo",%q]}`, i, arg)
	}
	b.WriteString("]}")
	resp, err := http.Post(s.api+"/v1/workflows", "application/json", strings.NewReader(b.String()))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p struct {
		Problems []events.Problem `json:"problems"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	require.Len(t, p.Problems, 1)
	require.Equal(t, "tasks", p.Problems[0].Field)
	require.Contains(t, p.Problems[0].Reason, "the event bus carries at most 8 MiB")
	var workflows int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM workflows`).Scan(&workflows))
	require.Zero(t, workflows)
}
