package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// runSubmit posts a workflow file to a gateway and follows it to the end.
func runSubmit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "gateway base URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: foresight submit FILE [--url URL]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return submitAndFollow(ctx, strings.TrimRight(*url, "/"), fs.Arg(0), stdout)
}

// submitAndFollow submits path (a file, or a directory holding workflow.yaml) and prints
// progress until the workflow finishes. It returns 0 when it succeeded.
func submitAndFollow(ctx context.Context, base, path string, out io.Writer) int {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "workflow.yaml")
	}
	body, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(out, "submit: %v\n", err)
		return 1
	}
	resp, err := http.Post(base+"/v1/workflows", "application/yaml", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(out, "submit: %v\n", err)
		return 1
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		fmt.Fprintf(out, "submit: %s\n%s\n", resp.Status, raw)
		return 1
	}
	var sub struct {
		ID    string `json:"id"`
		Tasks int    `json:"tasks"`
	}
	_ = json.Unmarshal(raw, &sub)
	fmt.Fprintf(out, "submitted %s (%d tasks) as workflow %s\n", path, sub.Tasks, sub.ID)
	return follow(ctx, base, sub.ID, out)
}

type followStatus struct {
	Status          string   `json:"status"`
	MakespanSeconds *float64 `json:"makespan_seconds"`
	Tasks           []struct {
		ID             string   `json:"id"`
		State          string   `json:"state"`
		VMID           string   `json:"vm_id"`
		RuntimeSeconds *float64 `json:"runtime_seconds"`
		CPUSeconds     *float64 `json:"cpu_seconds"`
		PeakRSSBytes   *int64   `json:"peak_rss_bytes"`
		ExitCode       *int     `json:"exit_code"`
	} `json:"tasks"`
}

// follow polls the workflow's status, printing each change, until it is final.
func follow(ctx context.Context, base, id string, out io.Writer) int {
	seen := map[string]string{}
	lastStatus := ""
	start := time.Now()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return 1
		case <-t.C:
		}
		resp, err := http.Get(base + "/v1/workflows/" + id)
		if err != nil {
			continue
		}
		var st followStatus
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			continue
		}
		if st.Status != lastStatus {
			fmt.Fprintf(out, "%6.1fs  workflow %s\n", time.Since(start).Seconds(), st.Status)
			lastStatus = st.Status
		}
		sort.SliceStable(st.Tasks, func(i, j int) bool { return st.Tasks[i].ID < st.Tasks[j].ID })
		for _, task := range st.Tasks {
			// The allocator's state and the monitor's measurement arrive separately: print
			// again when the measurement lands.
			key := fmt.Sprintf("%s/%t", task.State, task.RuntimeSeconds != nil)
			if seen[task.ID] == key {
				continue
			}
			seen[task.ID] = key
			line := fmt.Sprintf("%6.1fs  task %-14s %s", time.Since(start).Seconds(), task.ID, task.State)
			if task.VMID != "" && task.State == "dispatched" {
				line += " on " + task.VMID
			}
			if task.RuntimeSeconds != nil && task.State != "dispatched" {
				line += fmt.Sprintf("  runtime %.2fs cpu %.2fs rss %.1f MiB exit %d", *task.RuntimeSeconds,
					deref(task.CPUSeconds), float64(deref(task.PeakRSSBytes))/(1<<20), deref(task.ExitCode))
			}
			fmt.Fprintln(out, line)
		}
		switch st.Status {
		case "succeeded":
			fmt.Fprintf(out, "workflow %s succeeded: makespan %.2fs\n", id, deref(st.MakespanSeconds))
			return 0
		case "failed", "rejected":
			fmt.Fprintf(out, "workflow %s %s\n", id, st.Status)
			return 1
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
