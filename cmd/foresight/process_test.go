package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/testenv"
)

// Binaries are built once per test run: the foresight binary and a nats-server from the
// pinned nats-server/v2 module (not the machine's older package).
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func binaries(t *testing.T) (foresight, natsServer string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "foresight-bin-")
		if buildErr != nil {
			return
		}
		for _, b := range [][]string{
			{"-o", filepath.Join(binDir, "foresight"), "."},
			{"-o", filepath.Join(binDir, "nats-server"), "github.com/nats-io/nats-server/v2"},
		} {
			out, err := exec.Command("go", append([]string{"build"}, b...)...).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %v: %v\n%s", b, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(binDir, "foresight"), filepath.Join(binDir, "nats-server")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a child process whose output is kept for failure messages.
type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
	mu  *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{out: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = lockedWriter{p.mu, p.out}
	p.cmd.Stderr = lockedWriter{p.mu, p.out}
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("--- output of %s %v:\n%s", filepath.Base(name), args, lastLines(p.out.String(), 40))
			p.mu.Unlock()
		}
	})
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "%s never became ready", url)
}

// TestSeparateProcesses runs the six services as six OS processes against a real
// nats-server process and Postgres, and runs a workflow through them.
func TestSeparateProcesses(t *testing.T) {
	t.Parallel()
	dbURL, pool := testenv.Database(t)
	foresight, natsServer := binaries(t)
	natsPort := freePort(t)
	start(t, nil, natsServer, "-a", "127.0.0.1", "-p", fmt.Sprint(natsPort), "-js", "-sd", t.TempDir())
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", natsPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 30*time.Second, 50*time.Millisecond)

	workDir := t.TempDir()
	var gateway string
	for _, name := range serviceNames {
		port := freePort(t)
		env := []string{
			"FORESIGHT_DATABASE_URL=" + dbURL,
			fmt.Sprintf("FORESIGHT_NATS_URL=nats://127.0.0.1:%d", natsPort),
			fmt.Sprintf("FORESIGHT_HTTP_ADDR=127.0.0.1:%d", port),
			"FORESIGHT_WORK_DIR=" + workDir,
			"FORESIGHT_ACK_WAIT=5s",
		}
		start(t, env, foresight, name)
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if name == "gateway" {
			gateway = fmt.Sprintf("http://127.0.0.1:%d", port)
		}
	}
	runs := filepath.Join(t.TempDir(), "runs.log")
	code, sub := submit(t, gateway, tenTaskDAG(runs))
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["id"].(string)
	st := waitStatus(t, gateway, id, 90*time.Second)
	require.Equal(t, "succeeded", st["status"], st)
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM task_observations WHERE workflow_id = $1`, id).Scan(&n))
	require.Equal(t, 10, n)
}

// TestKillNineAndRestart kills the all-in-one process mid-workflow and starts it again on
// the same state: the workflow finishes and no task that had finished runs again.
func TestKillNineAndRestart(t *testing.T) {
	t.Parallel()
	dbURL, pool := testenv.Database(t)
	foresight, _ := binaries(t)
	dir := t.TempDir()
	port := freePort(t)
	api := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := []string{"FORESIGHT_DATABASE_URL=" + dbURL, "FORESIGHT_ACK_WAIT=2s", "FORESIGHT_LOCAL_CORES=2"}
	args := []string{"dev", "--serve", "--dir", dir, "--addr", fmt.Sprintf("127.0.0.1:%d", port)}

	first := start(t, env, foresight, args...)
	waitHTTP(t, api+"/readyz")

	// A chain of twelve 0.4 s tasks: long enough to kill it in the middle.
	runs := filepath.Join(t.TempDir(), "runs.log")
	var b strings.Builder
	b.WriteString(`{"name":"kill9","tasks":[`)
	for i := 1; i <= 12; i++ {
		if i > 1 {
			b.WriteString(",")
		}
		dep := "[]"
		if i > 1 {
			dep = fmt.Sprintf(`["k%02d"]`, i-1)
		}
		fmt.Fprintf(&b, `{"id":"k%02d","command":["sh","-c","sleep 0.4; echo k%02d >> %s"],"cpu":1,"memory":"16Mi","depends_on":%s}`, i, i, runs, dep)
	}
	b.WriteString("]}")
	code, sub := submit(t, api, b.String())
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["id"].(string)

	finishedBefore := func() map[string]bool {
		rows, err := pool.Query(context.Background(), `SELECT task_id FROM agent_runs WHERE workflow_id = $1 AND finished_at IS NOT NULL`, id)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out[s] = true
		}
		return out
	}
	require.Eventually(t, func() bool { return len(finishedBefore()) >= 3 }, 60*time.Second, 50*time.Millisecond)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.cmd.Wait()
	done := finishedBefore()
	require.Less(t, len(done), 12, "the kill must land mid-workflow")

	start(t, env, foresight, args...)
	waitHTTP(t, api+"/readyz")
	st := waitStatus(t, api, id, 120*time.Second)
	require.Equal(t, "succeeded", st["status"], st)

	raw, err := os.ReadFile(runs)
	require.NoError(t, err)
	counts := map[string]int{}
	for _, l := range strings.Fields(string(raw)) {
		counts[l]++
	}
	require.Len(t, counts, 12, "every task ran")
	for task := range done {
		require.Equal(t, 1, counts[task], "task %s finished before the kill and must not run again", task)
	}
	var obs, distinct int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT task_id) FROM task_observations WHERE workflow_id = $1 AND status = 'succeeded'`, id).Scan(&obs, &distinct))
	require.Equal(t, 12, distinct)
	require.Equal(t, 12, obs, "one succeeded observation per task")
}

// TestGracefulShutdownFinishesInFlightWork sends SIGTERM while a task runs: the process
// lets the task finish (within its grace period), records it, exits 0, and after a
// restart the workflow completes with every task run exactly once.
func TestGracefulShutdownFinishesInFlightWork(t *testing.T) {
	t.Parallel()
	dbURL, pool := testenv.Database(t)
	foresight, _ := binaries(t)
	dir := t.TempDir()
	port := freePort(t)
	api := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := []string{"FORESIGHT_DATABASE_URL=" + dbURL, "FORESIGHT_ACK_WAIT=3s"}
	args := []string{"dev", "--serve", "--dir", dir, "--addr", fmt.Sprintf("127.0.0.1:%d", port)}

	first := start(t, env, foresight, args...)
	waitHTTP(t, api+"/readyz")
	runs := filepath.Join(t.TempDir(), "runs.log")
	body := fmt.Sprintf(`{"name":"sigterm","tasks":[
		{"id":"long","command":["sh","-c","sleep 1.5; echo long >> %[1]s"],"cpu":1,"memory":"16Mi"},
		{"id":"after","command":["sh","-c","echo after >> %[1]s"],"cpu":1,"memory":"16Mi","depends_on":["long"]}]}`, runs)
	code, sub := submit(t, api, body)
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["id"].(string)
	require.Eventually(t, func() bool {
		var n int
		_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM agent_runs WHERE workflow_id = $1 AND task_id = 'long'`, id).Scan(&n)
		return n == 1
	}, 30*time.Second, 20*time.Millisecond, "the long task started")

	require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, first.cmd.Wait(), "a graceful stop exits 0")
	var finished bool
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT finished_at IS NOT NULL FROM agent_runs WHERE workflow_id = $1 AND task_id = 'long'`, id).Scan(&finished))
	require.True(t, finished, "the in-flight task was allowed to finish and was recorded")

	start(t, env, foresight, args...)
	waitHTTP(t, api+"/readyz")
	require.Equal(t, "succeeded", waitStatus(t, api, id, 60*time.Second)["status"])
	raw, err := os.ReadFile(runs)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"long", "after"}, strings.Fields(string(raw)), "each task ran exactly once")
}
