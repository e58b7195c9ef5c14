package spec

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/graphbuilder/dag"
)

// Format names the input format a workflow was parsed from.
type Format string

// Supported formats.
const (
	FormatNative     Format = "native"
	FormatWfFormat14 Format = "wfformat-1.4"
	FormatWfFormat15 Format = "wfformat-1.5"
)

// Objective modes.
const (
	ModeFastest  = "fastest"
	ModeCheapest = "cheapest"
	ModeBalanced = "balanced"
)

// Defaults applied to fields a submission leaves out.
const (
	// DefaultCPU is a task's cores when the spec gives none.
	DefaultCPU = 1.0
	// DefaultMemoryBytes is a task's memory when the spec (or a WfFormat trace) gives
	// none: 256 MiB, the smallest slot the planner hands out.
	DefaultMemoryBytes int64 = 256 << 20
	// DefaultMode is the objective mode when the spec gives none.
	DefaultMode = ModeBalanced
	// ReplayCommand is the command of a task imported from a trace: the agent runs such a
	// task as a built-in sleep of its ReplaySeconds, never as a program.
	ReplayCommand = "foresight-replay"
)

// Workflow is a parsed submission in any supported format.
type Workflow struct {
	Name string
	// Family is the history family; it defaults to Name (for WfFormat, the name with run
	// numbers and timestamps removed, see FamilyFromName).
	Family    string
	Objective events.Objective
	Tasks     []events.Task
	Format    Format
}

// Limits bound what a submission may contain. Exceeding one is a "too large" problem.
type Limits struct {
	// MaxTasks and MaxEdges bound the graph (edges counted as written, before merging
	// duplicates).
	MaxTasks, MaxEdges int
	// MaxBodyBytes bounds the submitted document.
	MaxBodyBytes int64
	// MaxDepth bounds JSON/YAML nesting; MaxStringLen every string (ids, arguments,
	// environment values, labels).
	MaxDepth, MaxStringLen int
	// MaxTaskCPU and MaxTaskMemoryBytes are the largest instance type: a task that does
	// not fit on it can never run.
	MaxTaskCPU         float64
	MaxTaskMemoryBytes int64
}

// Default limits. They admit the 100,000-task graphs Foresight is benchmarked on with
// room to spare while keeping a single request's memory bounded.
const (
	DefaultMaxTasks                 = 200_000
	DefaultMaxEdges                 = 2_000_000
	DefaultMaxBodyBytes       int64 = 256 << 20
	DefaultMaxDepth                 = 32
	DefaultMaxStringLen             = 64 << 10
	DefaultMaxTaskCPU               = 192.0
	DefaultMaxTaskMemoryBytes int64 = 3 << 39 // 1.5 TiB
)

// DefaultLimits returns the documented default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxTasks:           DefaultMaxTasks,
		MaxEdges:           DefaultMaxEdges,
		MaxBodyBytes:       DefaultMaxBodyBytes,
		MaxDepth:           DefaultMaxDepth,
		MaxStringLen:       DefaultMaxStringLen,
		MaxTaskCPU:         DefaultMaxTaskCPU,
		MaxTaskMemoryBytes: DefaultMaxTaskMemoryBytes,
	}
}

// withDefaults fills zero fields, so a caller's Limits{MaxTasks: 10} keeps the other
// defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxTasks <= 0 {
		l.MaxTasks = d.MaxTasks
	}
	if l.MaxEdges <= 0 {
		l.MaxEdges = d.MaxEdges
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = d.MaxStringLen
	}
	if !(l.MaxTaskCPU > 0) {
		l.MaxTaskCPU = d.MaxTaskCPU
	}
	if l.MaxTaskMemoryBytes <= 0 {
		l.MaxTaskMemoryBytes = d.MaxTaskMemoryBytes
	}
	return l
}

// Sentinel errors an *Error matches with errors.Is, for callers choosing a status code.
var (
	// ErrInvalid matches every *Error (HTTP 422 unless also ErrTooLarge).
	ErrInvalid = errors.New("invalid workflow")
	// ErrTooLarge matches an *Error that exceeded a limit (HTTP 413).
	ErrTooLarge = errors.New("workflow exceeds a limit")
)

// Error lists every problem found at once; TooLarge means a limit was exceeded (HTTP 413),
// else the submission is unprocessable (HTTP 422).
type Error struct {
	Problems []events.Problem
	TooLarge bool
}

// Error summarises the problems, the first few in full.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	if e.TooLarge {
		b.WriteString(" (too large)")
	}
	fmt.Fprintf(&b, ": %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		b.WriteString("; ")
		if p.Task != "" {
			fmt.Fprintf(&b, "task %q ", p.Task)
		}
		fmt.Fprintf(&b, "%s: %s", p.Field, p.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) and, when TooLarge, errors.Is(err, ErrTooLarge) true.
func (e *Error) Is(target error) bool {
	return target == ErrInvalid || (target == ErrTooLarge && e.TooLarge)
}

// maxProblems bounds the problem list so that a pathological submission cannot make a
// pathological response; the last entry says how many were left out.
const maxProblems = 1000

// problems collects problems and whether any was a limit.
type problems struct {
	list     []events.Problem
	dropped  int
	tooLarge bool
	// decoded holds the fields that already have a decoding problem (wrong type, bad
	// quantity), so validation does not report the same field again as missing.
	decoded map[string]bool
}

// sealDecoding marks the end of decoding: later problems on a field that already has one
// are left out.
func (p *problems) sealDecoding() {
	p.decoded = make(map[string]bool, len(p.list))
	for _, q := range p.list {
		p.decoded[q.Field] = true
	}
}

func (p *problems) add(task, field, format string, args ...any) {
	if p.decoded[field] {
		return
	}
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	p.list = append(p.list, events.Problem{Task: task, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (p *problems) limit(task, field, format string, args ...any) {
	p.tooLarge = true
	p.add(task, field, format, args...)
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	if p.dropped > 0 {
		list = append(list, events.Problem{Field: "problems", Reason: fmt.Sprintf("%d more problems not listed", p.dropped)})
	}
	return &Error{Problems: list, TooLarge: p.tooLarge}
}

// Validate checks a parsed workflow: an empty workflow, limits, ids, resources (positive,
// finite, fitting the largest instance), numeric fields, the objective, and the graph
// (duplicate ids, unknown dependencies, self-dependencies, one cycle reported as a path).
// It returns nil or an *Error listing every problem.
func Validate(w *Workflow, lim Limits) error {
	var p problems
	validate(w, lim.withDefaults(), &p)
	return p.err()
}

func validate(w *Workflow, lim Limits, p *problems) {
	if w == nil {
		p.add("", "tasks", "workflow is empty")
		return
	}
	if strings.TrimSpace(w.Name) == "" {
		p.add("", "name", "required")
	}
	checkString(p, lim, "", "name", w.Name)
	checkString(p, lim, "", "family", w.Family)
	validateObjective(w.Objective, p)
	switch {
	case len(w.Tasks) == 0:
		p.add("", "tasks", "workflow has no tasks")
		return
	case len(w.Tasks) > lim.MaxTasks:
		// Stop before per-task work: the limit exists to bound it.
		p.limit("", "tasks", "%d tasks exceed the limit of %d", len(w.Tasks), lim.MaxTasks)
		return
	}
	edges := 0
	for i := range w.Tasks {
		validateTask(&w.Tasks[i], i, lim, p)
		edges += len(w.Tasks[i].DependsOn)
	}
	if edges > lim.MaxEdges {
		p.limit("", "tasks", "%d dependencies exceed the limit of %d", edges, lim.MaxEdges)
		return
	}
	_, graphProblems := dag.New(w.Tasks)
	for _, gp := range graphProblems {
		p.add(gp.Task, gp.Field, "%s", gp.Reason)
	}
}

func validateObjective(o events.Objective, p *problems) {
	switch o.Mode {
	case "", ModeFastest, ModeCheapest, ModeBalanced:
	default:
		p.add("", "objective.mode", "%q is not one of fastest, cheapest, balanced", o.Mode)
	}
	if o.Lambda != nil && !(*o.Lambda >= 0 && !math.IsInf(*o.Lambda, 0)) {
		p.add("", "objective.lambda", "must be a finite number >= 0")
	}
	if o.DeadlineSeconds != nil && !positive(*o.DeadlineSeconds) {
		p.add("", "objective.deadline_seconds", "must be a finite number > 0")
	}
	if o.BudgetUSD != nil && !positive(*o.BudgetUSD) {
		p.add("", "objective.budget_usd", "must be a finite number > 0")
	}
}

func positive(x float64) bool { return x > 0 && !math.IsInf(x, 0) }

func nonNegative(x float64) bool { return x >= 0 && !math.IsInf(x, 0) }

func validateTask(t *events.Task, i int, lim Limits, p *problems) {
	f := func(name string) string { return fmt.Sprintf("tasks[%d].%s", i, name) }
	id := t.ID
	switch {
	case id == "":
		p.add("", f("id"), "required")
	case len(id) > maxIDLen:
		p.limit("", f("id"), "id is %d bytes, longer than %d", len(id), maxIDLen)
		id = id[:maxIDLen]
	case !validID(id):
		p.add(id, f("id"), "must be printable UTF-8 without spaces")
	}
	switch {
	case !positive(t.CPU):
		p.add(id, f("cpu"), "must be a finite number > 0, got %v", t.CPU)
	case t.CPU > lim.MaxTaskCPU:
		p.add(id, f("cpu"), "%v cores is more than the largest instance type (%v)", t.CPU, lim.MaxTaskCPU)
	}
	switch {
	case t.MemoryBytes <= 0:
		p.add(id, f("memory"), "must be > 0 bytes, got %d", t.MemoryBytes)
	case t.MemoryBytes > lim.MaxTaskMemoryBytes:
		p.add(id, f("memory"), "%d bytes is more than the largest instance type (%d)", t.MemoryBytes, lim.MaxTaskMemoryBytes)
	}
	if !nonNegative(t.EstimatedSeconds) {
		p.add(id, f("estimated_seconds"), "must be a finite number >= 0")
	}
	if !nonNegative(t.TimeoutSeconds) {
		p.add(id, f("timeout_seconds"), "must be a finite number >= 0")
	}
	if !nonNegative(t.ReplaySeconds) {
		p.add(id, f("replay_seconds"), "must be a finite number >= 0")
	}
	if t.Retries < 0 || t.Retries > MaxRetries {
		p.add(id, f("retries"), "must be between 0 and %d", MaxRetries)
	}
	if t.InputBytes < 0 {
		p.add(id, f("input_bytes"), "must be >= 0")
	}
	replay := t.ReplaySeconds > 0 || (len(t.Command) > 0 && t.Command[0] == ReplayCommand)
	switch {
	case len(t.Command) == 0 && !replay:
		p.add(id, f("command"), "required: an argv array such as [\"echo\", \"hello\"]")
	case len(t.Command) > 0 && t.Command[0] == "":
		p.add(id, f("command[0]"), "program must not be empty")
	}
	// Field names are built only for a problem: this loop runs for every task of a
	// 100,000-task submission.
	for k, a := range t.Command {
		if len(a) > lim.MaxStringLen {
			checkString(p, lim, id, fmt.Sprintf("tasks[%d].command[%d]", i, k), a)
		}
	}
	if len(t.Dir) > lim.MaxStringLen {
		checkString(p, lim, id, f("dir"), t.Dir)
	}
	if len(t.Category) > lim.MaxStringLen {
		checkString(p, lim, id, f("category"), t.Category)
	}
	for k, v := range t.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			p.add(id, f("env"), "variable name %q must be non-empty without '=' or NUL", k)
		}
		if len(v) > lim.MaxStringLen || len(k) > lim.MaxStringLen {
			checkString(p, lim, id, f("env."+k), k+v)
		}
	}
	for k, v := range t.Labels {
		if k == "" {
			p.add(id, f("labels"), "label name must not be empty")
		}
		if len(v) > lim.MaxStringLen || len(k) > lim.MaxStringLen {
			checkString(p, lim, id, f("labels."+k), k+v)
		}
	}
	for k, d := range t.DependsOn {
		if d == "" {
			p.add(id, fmt.Sprintf("tasks[%d].depends_on[%d]", i, k), "must not be empty")
		}
	}
}

// MaxRetries bounds a task's retries: more is a runaway, not a policy.
const MaxRetries = 100

// maxIDLen bounds task ids; they appear in every event about the task.
const maxIDLen = 256

func validID(id string) bool {
	if !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func checkString(p *problems, lim Limits, task, field, s string) {
	if len(s) > lim.MaxStringLen {
		p.limit(task, field, "string of %d bytes exceeds the limit of %d", len(s), lim.MaxStringLen)
	}
}
