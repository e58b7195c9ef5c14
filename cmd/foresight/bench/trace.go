package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/graphbuilder/dag"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoTraces is returned when a traces directory holds no usable WfFormat file.
var ErrNoTraces = errors.New("no WfFormat traces found")

// ErrEmptyTrace marks a workflow with no tasks.
var ErrEmptyTrace = errors.New("workflow has no tasks")

// ErrNoWork marks a workflow none of whose tasks took measurable time: there is nothing to
// schedule or predict, and every ratio to its lower bounds would be 0/0.
var ErrNoWork = errors.New("no task has a positive runtime")

// Task is one task of a trace as the simulator needs it: its true runtime and its
// requests, with dependencies as indices into Trace.Tasks.
type Task struct {
	ID         string
	Category   string
	Signature  string
	CPU        float64
	Memory     int64
	InputBytes int64
	// Runtime is the recorded runtime in seconds: the truth the simulator executes.
	Runtime  float64
	Parents  []int
	Children []int
	// Spec is the task as the graph builder parsed it.
	Spec events.Task
}

// Trace is one recorded workflow execution.
type Trace struct {
	// Name is the file's path relative to the directory it was loaded from.
	Name   string
	Family string
	Tasks  []Task
	// Order is a topological order of Tasks.
	Order []int
	// Digest identifies the file's content (SHA-256), so the same run given as history and
	// as a trace to score is recognised whatever its path.
	Digest string

	graph *dag.Graph
}

// Skipped is a trace the bench could not use, and why.
type Skipped struct {
	Trace  string `json:"trace"`
	Reason string `json:"reason"`
}

// LoadDir reads every WfFormat file (*.json) under dir and its subfolders, sorted by
// family and then file name, which is the order traces are scored in. A file that does not
// parse as a valid workflow is skipped and reported, so one bad file in a directory of
// unseen traces does not stop the bench; ErrNoTraces when nothing usable is left.
func LoadDir(dir string) ([]*Trace, []Skipped, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".json") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk %s: %w", dir, err)
	}
	// The folder's own name counts for the family: a directory "sarek_germline" of
	// "sarek_germline_w1_t01.json" files is one family (spec.FamilyFromFilename).
	top := filepath.Base(dir)
	if abs, err := filepath.Abs(dir); err == nil {
		top = filepath.Base(abs)
	}
	var out []*Trace
	var skipped []Skipped
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			skipped = append(skipped, Skipped{Trace: rel, Reason: err.Error()})
			continue
		}
		if !looksLikeWfFormat(data) {
			continue // other JSON (manifests, schemas) is not a trace
		}
		tr, err := parseTrace(rel, path.Join(filepath.ToSlash(top), rel), data)
		if err != nil {
			skipped = append(skipped, Skipped{Trace: rel, Reason: err.Error()})
			continue
		}
		out = append(out, tr)
	}
	if len(out) == 0 {
		return nil, skipped, fmt.Errorf("%s: %w", dir, ErrNoTraces)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Family != out[j].Family {
			return out[i].Family < out[j].Family
		}
		return filepath.Base(out[i].Name) < filepath.Base(out[j].Name)
	})
	return out, skipped, nil
}

// looksLikeWfFormat tells a workflow instance from other JSON in a traces directory.
func looksLikeWfFormat(data []byte) bool {
	var probe struct {
		Workflow json.RawMessage `json:"workflow"`
	}
	return json.Unmarshal(data, &probe) == nil && len(probe.Workflow) > 0
}

// ParseTrace parses one WfFormat instance (1.4 or 1.5). name is the trace's name in the
// report; its file name gives the family when it follows the WfInstances convention.
func ParseTrace(name string, data []byte) (*Trace, error) {
	return parseTrace(name, name, data)
}

// parseTrace is ParseTrace with the family taken from familyPath: the file's path, its
// folder's own name included.
func parseTrace(name, familyPath string, data []byte) (*Trace, error) {
	wf, err := parseWorkflow(familyPath, data)
	if err != nil {
		return nil, err
	}
	tr, err := traceOf(name, wf.Family, wf.Tasks)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	tr.Digest = hex.EncodeToString(sum[:])
	return tr, nil
}

// traceOf builds a trace from tasks as the graph builder parsed them, each task's
// recorded runtime in ReplaySeconds.
func traceOf(name, family string, tasks []events.Task) (*Trace, error) {
	if len(tasks) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrEmptyTrace)
	}
	tr := &Trace{Name: name, Family: family}
	index := make(map[string]int, len(tasks))
	for i, t := range tasks {
		index[t.ID] = i
	}
	tr.Tasks = make([]Task, len(tasks))
	work := false
	for i, t := range tasks {
		work = work || t.ReplaySeconds > 0
		cpu := t.CPU
		if cpu <= 0 {
			cpu = 1
		}
		rt := t.ReplaySeconds
		if rt < 0 {
			rt = 0
		}
		tr.Tasks[i] = Task{
			ID: t.ID, Category: t.Category, CPU: cpu, Memory: max(t.MemoryBytes, 0),
			InputBytes: t.InputBytes, Runtime: rt, Spec: t,
		}
	}
	if !work {
		return nil, ErrNoWork
	}
	for i, t := range tasks {
		for _, d := range t.DependsOn {
			p, ok := index[d]
			if !ok {
				return nil, fmt.Errorf("task %s: unknown parent %q", t.ID, d)
			}
			tr.Tasks[i].Parents = append(tr.Tasks[i].Parents, p)
			tr.Tasks[p].Children = append(tr.Tasks[p].Children, i)
		}
	}
	for i := range tr.Tasks {
		tr.Tasks[i].Signature = signature(family, tasks[i])
	}
	order, err := topoOrder(tr.Tasks)
	if err != nil {
		return nil, err
	}
	tr.Order = order
	return tr, nil
}

// ErrCycle is returned for a trace whose dependencies are not a DAG.
var ErrCycle = errors.New("dependency cycle")

// topoOrder is Kahn's algorithm with ties broken by index, so the order is deterministic.
func topoOrder(tasks []Task) ([]int, error) {
	indeg := make([]int, len(tasks))
	for i := range tasks {
		indeg[i] = len(tasks[i].Parents)
	}
	var queue, order []int
	for i := range tasks {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		order = append(order, v)
		for _, c := range tasks[v].Children {
			indeg[c]--
			if indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if len(order) != len(tasks) {
		return nil, ErrCycle
	}
	return order, nil
}
