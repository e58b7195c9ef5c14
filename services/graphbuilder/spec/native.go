package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"

	"github.com/foresight-run/foresight/pkg/events"
)

// Field names of the native spec. Anything else is a problem: a misspelt field silently
// ignored is a bug the user finds at run time.
var (
	workflowFields  = []string{"name", "family", "objective", "tasks"}
	objectiveFields = []string{"mode", "lambda", "deadline_seconds", "budget_usd"}
	taskFields      = []string{"id", "command", "env", "dir", "cpu", "memory", "estimated_seconds",
		"retries", "timeout_seconds", "depends_on", "labels", "category", "replay_seconds", "input_bytes"}
)

// nativeDecoder turns a decoded JSON or YAML tree into a Workflow, recording a problem for
// every unknown field and wrong type and leaving such fields at their defaults, so one
// pass reports them all. Value checks (ranges, graph) are Validate's.
type nativeDecoder struct {
	p   *problems
	lim Limits
	// task is the id of the task being decoded, for problems.
	task string
}

func decodeNative(doc any, lim Limits, p *problems) *Workflow {
	d := &nativeDecoder{p: p, lim: lim}
	m, ok := d.object(doc, "")
	if !ok {
		d.p.add("", "body", "a workflow must be an object with name and tasks")
		return nil
	}
	d.unknown(m, "", workflowFields)
	w := &Workflow{Format: FormatNative}
	w.Name, _ = d.str(m, "", "name")
	w.Family, _ = d.str(m, "", "family")
	if w.Family == "" {
		w.Family = w.Name
	}
	w.Objective = d.objective(m["objective"])
	raw, present := m["tasks"]
	list, ok := raw.([]any)
	switch {
	case !present:
		d.p.add("", "tasks", "required")
	case !ok:
		d.p.add("", "tasks", "must be an array of tasks")
	case len(list) > lim.MaxTasks:
		d.p.limit("", "tasks", "%d tasks exceed the limit of %d", len(list), lim.MaxTasks)
		return w
	}
	w.Tasks = make([]events.Task, 0, len(list))
	for i, v := range list {
		w.Tasks = append(w.Tasks, d.taskAt(v, i))
	}
	return w
}

func (d *nativeDecoder) objective(v any) events.Objective {
	o := events.Objective{Mode: DefaultMode}
	if v == nil {
		return o
	}
	m, ok := d.object(v, "objective")
	if !ok {
		d.p.add("", "objective", "must be an object")
		return o
	}
	d.unknown(m, "objective.", objectiveFields)
	if s, ok := d.str(m, "objective.", "mode"); ok && s != "" {
		o.Mode = s
	}
	o.Lambda = d.optNumber(m, "objective.", "lambda")
	o.DeadlineSeconds = d.optNumber(m, "objective.", "deadline_seconds")
	o.BudgetUSD = d.optNumber(m, "objective.", "budget_usd")
	return o
}

func (d *nativeDecoder) taskAt(v any, i int) events.Task {
	prefix := fmt.Sprintf("tasks[%d].", i)
	t := events.Task{CPU: DefaultCPU, MemoryBytes: DefaultMemoryBytes}
	d.task = ""
	m, ok := d.object(v, prefix)
	if !ok {
		d.p.add("", fmt.Sprintf("tasks[%d]", i), "must be an object")
		return t
	}
	t.ID, _ = d.str(m, prefix, "id")
	d.task = t.ID
	d.unknown(m, prefix, taskFields)
	if s, ok := m["command"].(string); ok {
		// The most common mistake: a shell line. Foresight never runs a shell implicitly.
		d.p.add(d.task, prefix+"command", "must be an argv array such as [\"sh\", \"-c\", %q], not a string", s)
	} else {
		t.Command = d.strList(m, prefix, "command")
	}
	t.Env = d.strMap(m, prefix, "env")
	t.Dir, _ = d.str(m, prefix, "dir")
	if x, ok := d.number(m, prefix, "cpu"); ok {
		t.CPU = x
	}
	if raw, ok := m["memory"]; ok && raw != nil {
		if b, err := memoryValue(raw); err != nil {
			d.p.add(d.task, prefix+"memory", "%s", err)
		} else {
			t.MemoryBytes = b
		}
	}
	t.EstimatedSeconds, _ = d.number(m, prefix, "estimated_seconds")
	t.Retries = d.integer(m, prefix, "retries")
	t.TimeoutSeconds, _ = d.number(m, prefix, "timeout_seconds")
	t.DependsOn = d.strList(m, prefix, "depends_on")
	t.Labels = d.strMap(m, prefix, "labels")
	t.Category, _ = d.str(m, prefix, "category")
	if t.Category == "" && len(t.Command) > 0 {
		// Tasks running the same program are the same kind unless the user says otherwise.
		t.Category = path.Base(t.Command[0])
	}
	t.ReplaySeconds, _ = d.number(m, prefix, "replay_seconds")
	if t.ReplaySeconds > 0 && len(t.Command) == 0 {
		t.Command = []string{ReplayCommand}
	}
	t.InputBytes = int64(d.integer(m, prefix, "input_bytes"))
	return t
}

// object accepts a JSON object or a YAML mapping with string keys.
func (d *nativeDecoder) object(v any, prefix string) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			ks, ok := k.(string)
			if !ok {
				d.p.add(d.task, prefix+fmt.Sprint(k), "keys must be strings")
				continue
			}
			out[ks] = x
		}
		return out, true
	}
	return nil, false
}

func (d *nativeDecoder) unknown(m map[string]any, prefix string, known []string) {
	var bad []string
	for k := range m {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad) // map order is random; problems must not be
	for _, k := range bad {
		d.p.add(d.task, prefix+k, "unknown field")
	}
}

func (d *nativeDecoder) str(m map[string]any, prefix, key string) (string, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		d.p.add(d.task, prefix+key, "%s", notString(v))
		return "", false
	}
	return s, true
}

// notString explains a non-string where a string belongs; YAML turns unquoted numbers and
// yes/no into numbers and booleans, which is the usual cause.
func notString(v any) string {
	switch v.(type) {
	case json.Number, float64, int, int64, uint64, bool:
		return fmt.Sprintf("must be a string, got %v (quote it: \"%v\")", v, v)
	}
	return "must be a string"
}

func (d *nativeDecoder) strList(m map[string]any, prefix, key string) []string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		d.p.add(d.task, prefix+key, "must be an array of strings")
		return nil
	}
	out := make([]string, 0, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			d.p.add(d.task, fmt.Sprintf("%s%s[%d]", prefix, key, i), "%s", notString(x))
			continue
		}
		out = append(out, s)
	}
	return out
}

func (d *nativeDecoder) strMap(m map[string]any, prefix, key string) map[string]string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	obj, ok := d.object(v, prefix+key+".")
	if !ok {
		d.p.add(d.task, prefix+key, "must be an object of strings")
		return nil
	}
	out := make(map[string]string, len(obj))
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s, ok := obj[k].(string)
		if !ok {
			d.p.add(d.task, prefix+key+"."+k, "%s", notString(obj[k]))
			continue
		}
		out[k] = s
	}
	return out
}

// number reads a JSON or YAML number; a missing field is (0, false).
func (d *nativeDecoder) number(m map[string]any, prefix, key string) (float64, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		return 0, false
	}
	x, ok := toFloat(v)
	if !ok {
		d.p.add(d.task, prefix+key, "must be a number")
		return 0, false
	}
	return x, true
}

func (d *nativeDecoder) optNumber(m map[string]any, prefix, key string) *float64 {
	x, ok := d.number(m, prefix, key)
	if !ok {
		return nil
	}
	return &x
}

// integer reads a whole number; fractions and out-of-range values are problems.
func (d *nativeDecoder) integer(m map[string]any, prefix, key string) int {
	x, ok := d.number(m, prefix, key)
	if !ok {
		return 0
	}
	if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		d.p.add(d.task, prefix+key, "must be a whole number")
		return 0
	}
	return int(x)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// memoryValue reads a memory amount: a whole number of bytes, or a string quantity.
func memoryValue(v any) (int64, error) {
	if s, ok := v.(string); ok {
		return ParseMemory(s)
	}
	x, ok := toFloat(v)
	if !ok {
		return 0, fmt.Errorf("must be bytes (a number) or a quantity such as \"512Mi\" or \"2G\"")
	}
	if x != math.Trunc(x) || x < 0 || x > math.MaxInt64/2 {
		return 0, fmt.Errorf("must be a whole, non-negative number of bytes, got %v", x)
	}
	return int64(x), nil
}
