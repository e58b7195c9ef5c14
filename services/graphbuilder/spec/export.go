package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/foresight-run/foresight/pkg/events"
)

// Run is one measured execution of a task, as an agent reported it.
type Run struct {
	TaskID         string
	Machine        string
	StartedAt      time.Time
	RuntimeSeconds float64
	CPUSeconds     float64
	PeakRSSBytes   int64
	ExitCode       int
}

// Export identity written into every instance.
const (
	exportSystemName    = "Foresight"
	exportSystemVersion = "1"
	exportSystemURL     = "https://github.com/foresight-run/foresight"
)

// wfIDPattern is what WfFormat 1.5 allows in parent and child references.
var wfIDPattern = regexp.MustCompile(`^[0-9a-zA-Z\-_.#]+$`)

type wfOut struct {
	Name          string        `json:"name"`
	Description   string        `json:"description"`
	CreatedAt     string        `json:"createdAt,omitempty"`
	SchemaVersion string        `json:"schemaVersion"`
	RuntimeSystem wfOutSystem   `json:"runtimeSystem"`
	Workflow      wfOutWorkflow `json:"workflow"`
}

type wfOutSystem struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url"`
}

type wfOutWorkflow struct {
	Specification wfOutSpec  `json:"specification"`
	Execution     *wfOutExec `json:"execution,omitempty"`
}

type wfOutSpec struct {
	Tasks []wfOutSpecTask `json:"tasks"`
	Files []wfFile        `json:"files"`
}

type wfOutSpecTask struct {
	Name        string   `json:"name"`
	ID          string   `json:"id"`
	Category    string   `json:"category,omitempty"`
	Parents     []string `json:"parents"`
	Children    []string `json:"children"`
	InputFiles  []string `json:"inputFiles"`
	OutputFiles []string `json:"outputFiles"`
}

type wfOutExec struct {
	MakespanInSeconds float64         `json:"makespanInSeconds"`
	ExecutedAt        string          `json:"executedAt"`
	Tasks             []wfOutExecTask `json:"tasks"`
	Machines          []wfOutMachine  `json:"machines,omitempty"`
}

type wfOutExecTask struct {
	ID               string        `json:"id"`
	RuntimeInSeconds float64       `json:"runtimeInSeconds"`
	ExecutedAt       string        `json:"executedAt,omitempty"`
	Command          *wfOutCommand `json:"command,omitempty"`
	CoreCount        float64       `json:"coreCount"`
	AvgCPU           float64       `json:"avgCPU"`
	MemoryInBytes    int64         `json:"memoryInBytes,omitempty"`
	Machines         []string      `json:"machines,omitempty"`
}

type wfOutCommand struct {
	Program   string   `json:"program"`
	Arguments []string `json:"arguments"`
}

type wfOutMachine struct {
	NodeName string `json:"nodeName"`
}

// ExportWfFormat writes w as a WfFormat 1.5 instance with the measured runtimes, CPU
// utilisation (avgCPU = CPU seconds / runtime, in percent) and peak memory of runs, so
// Foresight's history can be read by WfCommons' tools. When a task ran more than once the
// last attempt (latest StartedAt) is recorded. Tasks without a run appear in the
// specification only. A task's InputBytes is exported as one input file of that size.
// Ids outside WfFormat's id alphabet are rewritten ('_' for each
// other character, with a numeric suffix if that collides) consistently everywhere.
func ExportWfFormat(w *Workflow, runs []Run) ([]byte, error) {
	if w == nil || len(w.Tasks) == 0 {
		return nil, fmt.Errorf("export WfFormat: %w", ErrEmptyWorkflow)
	}
	ids := exportIDs(w.Tasks)
	children := make(map[string][]string, len(w.Tasks))
	for _, t := range w.Tasks {
		for _, d := range t.DependsOn {
			children[d] = append(children[d], ids[t.ID])
		}
	}

	out := wfOut{
		Name:          w.Name,
		Description:   fmt.Sprintf("Workflow %q (family %q) executed by Foresight", w.Name, w.Family),
		SchemaVersion: "1.5",
		RuntimeSystem: wfOutSystem{Name: exportSystemName, Version: exportSystemVersion, URL: exportSystemURL},
	}
	if out.Name == "" {
		out.Name = "foresight-workflow"
	}
	spec := &out.Workflow.Specification
	spec.Files = []wfFile{}
	spec.Tasks = make([]wfOutSpecTask, len(w.Tasks))
	for i, t := range w.Tasks {
		parents := make([]string, 0, len(t.DependsOn))
		for _, d := range t.DependsOn {
			parents = append(parents, ids[d])
		}
		kids := children[t.ID]
		if kids == nil {
			kids = []string{}
		}
		inputs := []string{}
		if t.InputBytes > 0 {
			// Foresight knows a task's total input size, not its files: one file stands for
			// them so that the size survives the round trip through WfFormat.
			f := ids[t.ID] + ".inputs"
			inputs = append(inputs, f)
			spec.Files = append(spec.Files, wfFile{ID: f, SizeInBytes: float64(t.InputBytes)})
		}
		spec.Tasks[i] = wfOutSpecTask{Name: ids[t.ID], ID: ids[t.ID], Category: t.Category,
			Parents: parents, Children: kids, InputFiles: inputs, OutputFiles: []string{}}
	}

	last := make(map[string]Run, len(runs))
	for _, r := range runs {
		if prev, ok := last[r.TaskID]; !ok || !r.StartedAt.Before(prev.StartedAt) {
			last[r.TaskID] = r
		}
	}
	if len(last) == 0 {
		return marshalExport(out)
	}
	exec := &wfOutExec{Tasks: make([]wfOutExecTask, 0, len(last))}
	var first, end time.Time
	machines := map[string]bool{}
	for _, t := range w.Tasks {
		r, ok := last[t.ID]
		if !ok {
			continue
		}
		runtime := finiteOrZero(r.RuntimeSeconds)
		et := wfOutExecTask{
			ID:               ids[t.ID],
			RuntimeInSeconds: runtime,
			CoreCount:        max(1, math.Ceil(finiteOrZero(t.CPU))),
			MemoryInBytes:    max(0, r.PeakRSSBytes),
		}
		if runtime > 0 {
			et.AvgCPU = finiteOrZero(r.CPUSeconds) / runtime * 100
		}
		if !r.StartedAt.IsZero() {
			et.ExecutedAt = r.StartedAt.UTC().Format(time.RFC3339Nano)
			if first.IsZero() || r.StartedAt.Before(first) {
				first = r.StartedAt
			}
			if f := r.StartedAt.Add(time.Duration(runtime * float64(time.Second))); f.After(end) {
				end = f
			}
		}
		if cmd := exportCommand(t); cmd != nil {
			et.Command = cmd
		}
		if r.Machine != "" {
			et.Machines = []string{r.Machine}
			machines[r.Machine] = true
		}
		exec.Tasks = append(exec.Tasks, et)
	}
	if len(exec.Tasks) == 0 {
		return marshalExport(out)
	}
	if !first.IsZero() {
		exec.ExecutedAt = first.UTC().Format(time.RFC3339Nano)
		exec.MakespanInSeconds = end.Sub(first).Seconds()
		out.CreatedAt = exec.ExecutedAt
	} else {
		exec.ExecutedAt = time.Unix(0, 0).UTC().Format(time.RFC3339)
		for _, et := range exec.Tasks {
			exec.MakespanInSeconds = max(exec.MakespanInSeconds, et.RuntimeInSeconds)
		}
	}
	for _, t := range w.Tasks { // task order keeps the machine list deterministic
		if r, ok := last[t.ID]; ok && machines[r.Machine] {
			exec.Machines = append(exec.Machines, wfOutMachine{NodeName: r.Machine})
			delete(machines, r.Machine)
		}
	}
	out.Workflow.Execution = exec
	return marshalExport(out)
}

// ErrEmptyWorkflow is returned when there is nothing to export.
var ErrEmptyWorkflow = errors.New("workflow has no tasks")

func marshalExport(out wfOut) ([]byte, error) {
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export WfFormat: %w", err)
	}
	return b, nil
}

// exportCommand is the task's program and non-empty arguments (WfFormat forbids empty
// ones); replay tasks have no real command and export none.
func exportCommand(t events.Task) *wfOutCommand {
	if len(t.Command) == 0 || t.Command[0] == "" || t.Command[0] == ReplayCommand {
		return nil
	}
	args := make([]string, 0, len(t.Command)-1)
	for _, a := range t.Command[1:] {
		if a != "" {
			args = append(args, a)
		}
	}
	return &wfOutCommand{Program: t.Command[0], Arguments: args}
}

// exportIDs maps each task id to a WfFormat-safe one, unchanged when already safe.
func exportIDs(tasks []events.Task) map[string]string {
	ids := make(map[string]string, len(tasks))
	used := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		if wfIDPattern.MatchString(t.ID) {
			used[t.ID] = true
		}
	}
	for _, t := range tasks {
		if _, done := ids[t.ID]; done {
			continue
		}
		if wfIDPattern.MatchString(t.ID) {
			ids[t.ID] = t.ID
			continue
		}
		safe := []byte(t.ID)
		for i, c := range safe {
			if !wfIDPattern.Match([]byte{c}) {
				safe[i] = '_'
			}
		}
		cand := string(safe)
		if cand == "" {
			cand = "task"
		}
		for n := 2; used[cand]; n++ {
			cand = string(safe) + "_" + strconv.Itoa(n)
		}
		used[cand] = true
		ids[t.ID] = cand
	}
	return ids
}

func finiteOrZero(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return 0
	}
	return x
}
