// Package agent runs one task as a real OS process and measures it from the operating
// system: wall time, user+system CPU seconds and peak RSS from wait4's rusage, and the exit
// status. A task with ReplaySeconds and no command is a built-in sleep, which is how
// recorded traces are replayed.
package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/foresight-run/foresight/pkg/events"
)

// ReplayCommand marks a task that replays a recorded runtime instead of running a program.
const ReplayCommand = "foresight-replay"

// Result is what the agent measured.
type Result struct {
	Status         string
	ExitCode       int
	StartedAt      time.Time
	FinishedAt     time.Time
	RuntimeSeconds float64
	CPUSeconds     float64
	PeakRSSBytes   int64
	Error          string
}

// Options tune how tasks run.
type Options struct {
	// WorkDir is the task's working directory when its spec names none; created if needed.
	WorkDir string
	// ReplayScale multiplies replayed runtimes (0.01 replays a 100 s task in 1 s).
	ReplayScale float64
}

// ErrCancelled means the task was stopped because ctx ended (shutdown), not because it
// failed: the caller hands the task back rather than reporting it.
var ErrCancelled = errors.New("task cancelled")

// Run executes t and blocks until it ends, ctx is cancelled, or its timeout passes.
func Run(ctx context.Context, t events.Task, opts Options) (Result, error) {
	if t.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(t.TimeoutSeconds*float64(time.Second)))
		defer cancel()
	}
	if len(t.Command) == 0 || t.Command[0] == ReplayCommand {
		return replay(ctx, t, opts)
	}
	dir := t.Dir
	if dir == "" {
		dir = opts.WorkDir
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Result{}, fmt.Errorf("work dir %s: %w", dir, err)
		}
	}
	cmd := exec.Command(t.Command[0], t.Command[1:]...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range t.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if dir != "" {
		out, err := os.Create(filepath.Join(dir, sanitize(t.ID)+".log"))
		if err == nil {
			defer out.Close()
			cmd.Stdout, cmd.Stderr = out, out
		}
	}
	// Own process group, so a timeout kills the whole tree; die with the agent, so a killed
	// agent leaves no orphan that a re-run would race with.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	res := Result{StartedAt: time.Now()}
	if err := cmd.Start(); err != nil {
		res.FinishedAt = time.Now()
		res.Status, res.ExitCode, res.Error = events.StatusFailed, 127, err.Error()
		return res, nil
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	var err error
	select {
	case err = <-waitErr:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-waitErr
	}
	res.FinishedAt = time.Now()
	res.RuntimeSeconds = res.FinishedAt.Sub(res.StartedAt).Seconds()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
			res.PeakRSSBytes = ru.Maxrss * 1024 // Linux reports kilobytes
		}
		res.ExitCode = ps.ExitCode()
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Status, res.Error = events.StatusTimedOut, fmt.Sprintf("timed out after %.0fs", t.TimeoutSeconds)
	case ctx.Err() != nil:
		return res, ErrCancelled
	case err == nil:
		res.Status = events.StatusSucceeded
	default:
		res.Status, res.Error = events.StatusFailed, err.Error()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			// The kernel's OOM killer sends SIGKILL; nothing else here does.
			res.Status = events.StatusOOMKilled
		}
	}
	return res, nil
}

func replay(ctx context.Context, t events.Task, opts Options) (Result, error) {
	scale := opts.ReplayScale
	if scale <= 0 {
		scale = 1
	}
	d := time.Duration(t.ReplaySeconds * scale * float64(time.Second))
	res := Result{StartedAt: time.Now()}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		res.Status = events.StatusSucceeded
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return res, ErrCancelled
		}
		res.Status, res.ExitCode, res.Error = events.StatusTimedOut, -1, "timed out"
	}
	res.FinishedAt = time.Now()
	res.RuntimeSeconds = res.FinishedAt.Sub(res.StartedAt).Seconds()
	return res, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
