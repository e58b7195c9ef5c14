package bench

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/foresight-run/foresight/pkg/events"
)

// workflowDoc is what the bench needs of a parsed workflow.
type workflowDoc struct {
	Name   string
	Family string
	Tasks  []events.Task
}

// parseWorkflow reads WfFormat 1.5 (specification + execution) and 1.4 (flat task list).
// TODO(bench): switch to services/graphbuilder/spec.Parse when it lands.
func parseWorkflow(data []byte) (*workflowDoc, error) {
	var doc struct {
		Name     string `json:"name"`
		Workflow struct {
			Specification *struct {
				Tasks []struct {
					ID         string   `json:"id"`
					Name       string   `json:"name"`
					Parents    []string `json:"parents"`
					InputFiles []string `json:"inputFiles"`
				} `json:"tasks"`
				Files []struct {
					ID   string `json:"id"`
					Size int64  `json:"sizeInBytes"`
				} `json:"files"`
			} `json:"specification"`
			Execution *struct {
				Tasks []wfExecTask `json:"tasks"`
			} `json:"execution"`
			Tasks []struct {
				wfExecTask
				Name     string   `json:"name"`
				Parents  []string `json:"parents"`
				Category string   `json:"category"`
				Files    []struct {
					Link string `json:"link"`
					Size int64  `json:"sizeInBytes"`
				} `json:"files"`
			} `json:"tasks"`
		} `json:"workflow"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode wfformat: %w", err)
	}
	out := &workflowDoc{Name: doc.Name}
	if s := doc.Workflow.Specification; s != nil {
		sizes := map[string]int64{}
		for _, f := range s.Files {
			sizes[f.ID] = f.Size
		}
		exec := map[string]wfExecTask{}
		if doc.Workflow.Execution != nil {
			for _, t := range doc.Workflow.Execution.Tasks {
				exec[t.ID] = t
			}
		}
		for _, t := range s.Tasks {
			e := exec[t.ID]
			var in int64
			for _, f := range t.InputFiles {
				in += sizes[f]
			}
			out.Tasks = append(out.Tasks, events.Task{
				ID: t.ID, DependsOn: t.Parents, CPU: e.cpu(), MemoryBytes: e.Memory,
				Category: category(e.Command.Program, t.Name), InputBytes: in,
				ReplaySeconds: e.Runtime,
			})
		}
		return out, nil
	}
	// 1.4: parents name tasks by name.
	for _, t := range doc.Workflow.Tasks {
		var in int64
		for _, f := range t.Files {
			if f.Link == "input" {
				in += f.Size
			}
		}
		cat := t.Category
		if cat == "" {
			cat = category(t.Command.Program, t.Name)
		}
		out.Tasks = append(out.Tasks, events.Task{
			ID: t.Name, DependsOn: t.Parents, CPU: t.cpu(), MemoryBytes: t.Memory,
			Category: cat, InputBytes: in, ReplaySeconds: t.Runtime,
		})
	}
	return out, nil
}

type wfExecTask struct {
	ID        string  `json:"id"`
	Runtime   float64 `json:"runtimeInSeconds"`
	CoreCount float64 `json:"coreCount"`
	Cores     float64 `json:"cores"`
	Memory    int64   `json:"memoryInBytes"`
	Command   struct {
		Program string `json:"program"`
	} `json:"command"`
}

func (e wfExecTask) cpu() float64 {
	return max(e.CoreCount, e.Cores, 1)
}

func category(program, name string) string {
	if program != "" {
		return program
	}
	if i := strings.Index(name, "_ID"); i > 0 {
		return name[:i]
	}
	return name
}

// signature keys a task's history: the family and category (as dag.Signature does).
// TODO(bench): switch to dag.Signature when it lands.
func signature(family string, t *Task) string { return family + "/" + t.Category }
