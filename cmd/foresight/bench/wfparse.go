package bench

import (
	"fmt"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/graphbuilder/dag"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

// workflowDoc is what the bench needs of a parsed workflow.
type workflowDoc struct {
	Family string
	Tasks  []events.Task
}

// parseWorkflow parses a trace with the graph builder's own parser, so the bench sees a
// workflow exactly as a submission of it would be seen (defaults for missing cores and
// memory included). WfInstances names files "<family>-...": the file name's family wins
// over the document's name, which Pegasus sets to "workflow-test" for every instance.
func parseWorkflow(familyPath string, data []byte) (*workflowDoc, error) {
	w, err := spec.Parse(data, spec.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	family := spec.FamilyFromFilename(familyPath)
	if family == "" {
		family = w.Family
	}
	return &workflowDoc{Family: family, Tasks: w.Tasks}, nil
}

// signature keys a task's history as the services do.
func signature(family string, t events.Task) string { return dag.Signature(family, t) }
