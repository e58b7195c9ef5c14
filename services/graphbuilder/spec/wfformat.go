package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/foresight-run/foresight/pkg/events"
)

// wfDoc is the part of a WfFormat instance the importer reads, for both layouts: 1.5
// keeps the graph in workflow.specification and measurements in workflow.execution; 1.4
// (and the older flat layouts) keep one task list under workflow.tasks.
type wfDoc struct {
	Name          string `json:"name"`
	SchemaVersion string `json:"schemaVersion"`
	Workflow      struct {
		Specification *struct {
			Tasks []wfSpecTask `json:"tasks"`
			Files []wfFile     `json:"files"`
		} `json:"specification"`
		Execution *struct {
			Tasks []wfExecTask `json:"tasks"`
		} `json:"execution"`
		Tasks []wf14Task `json:"tasks"`
		// Jobs is the task list of WfFormat before 1.3.
		Jobs []wf14Task `json:"jobs"`
	} `json:"workflow"`
}

type wfSpecTask struct {
	Name        string   `json:"name"`
	ID          string   `json:"id"`
	Category    string   `json:"category"`
	Parents     []string `json:"parents"`
	Children    []string `json:"children"`
	InputFiles  []string `json:"inputFiles"`
	OutputFiles []string `json:"outputFiles"`
}

type wfFile struct {
	ID          string  `json:"id"`
	SizeInBytes float64 `json:"sizeInBytes"`
}

type wfCommand struct {
	Program   string `json:"program"`
	Arguments []any  `json:"arguments"`
}

// wfMetrics are the measurements both layouts share.
type wfMetrics struct {
	RuntimeInSeconds float64    `json:"runtimeInSeconds"`
	CoreCount        float64    `json:"coreCount"`
	Cores            float64    `json:"cores"`
	AvgCPU           float64    `json:"avgCPU"`
	MemoryInBytes    float64    `json:"memoryInBytes"`
	Memory           float64    `json:"memory"` // KB, before 1.4
	Category         string     `json:"category"`
	Command          *wfCommand `json:"command"`
}

type wfExecTask struct {
	ID string `json:"id"`
	wfMetrics
}

type wf14Task struct {
	Name     string   `json:"name"`
	ID       string   `json:"id"`
	Parents  []string `json:"parents"`
	Children []string `json:"children"`
	Files    []struct {
		Link        string  `json:"link"`
		Name        string  `json:"name"`
		SizeInBytes float64 `json:"sizeInBytes"`
	} `json:"files"`
	wfMetrics
}

// wfTask is one task of either layout, normalised.
type wfTask struct {
	name, id          string
	category          string
	parents, children []string
	inputBytes        float64
	metrics           wfMetrics
	hasMetrics        bool
}

func parseWfFormat(data []byte, lim Limits, p *problems) *Workflow {
	var doc wfDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		p.add("", "body", "invalid WfFormat instance: %s", jsonErrorDetail(data, err))
		return nil
	}
	var tasks []wfTask
	format, path := FormatWfFormat14, "workflow.tasks"
	switch {
	case doc.Workflow.Specification != nil:
		format, path = FormatWfFormat15, "workflow.specification.tasks"
		tasks = wf15Tasks(&doc)
	case len(doc.Workflow.Tasks) > 0:
		tasks = wf14Tasks(doc.Workflow.Tasks)
	default:
		tasks = wf14Tasks(doc.Workflow.Jobs)
	}
	if len(tasks) > lim.MaxTasks {
		p.limit("", path, "%d tasks exceed the limit of %d", len(tasks), lim.MaxTasks)
		return nil
	}

	name := doc.Name
	if strings.TrimSpace(name) == "" {
		name = "wfformat-instance"
	}
	w := &Workflow{
		Name:      name,
		Family:    FamilyFromName(name),
		Objective: events.Objective{Mode: DefaultMode},
		Format:    format,
		Tasks:     make([]events.Task, len(tasks)),
	}

	// A task's key is its name when names are unique (1.4 parents refer to names), else its
	// id; references resolve by either, so both layouts and both conventions import.
	useName := uniqueNonEmpty(tasks, func(t *wfTask) string { return t.name })
	key := func(t *wfTask) string {
		if useName || t.id == "" {
			return importID(t.name)
		}
		return importID(t.id)
	}
	resolve := make(map[string]int32, 2*len(tasks))
	for i := range tasks {
		if tasks[i].id != "" {
			resolve[tasks[i].id] = int32(i)
		}
	}
	for i := range tasks {
		if tasks[i].name != "" {
			resolve[tasks[i].name] = int32(i)
		}
	}
	for i := range tasks {
		resolve[key(&tasks[i])] = int32(i)
	}

	deps := make([][]string, len(tasks))
	for i := range tasks {
		t := &tasks[i]
		for _, ref := range t.parents {
			if j, ok := resolve[ref]; ok {
				deps[i] = append(deps[i], key(&tasks[j]))
			} else {
				deps[i] = append(deps[i], ref) // Validate reports it as unknown
			}
		}
		for _, ref := range t.children {
			j, ok := resolve[ref]
			if !ok {
				p.add(key(t), fmt.Sprintf("%s[%d].children", path, i), "unknown child %q", ref)
				continue
			}
			deps[j] = append(deps[j], key(t))
		}
	}

	for i := range tasks {
		t := &tasks[i]
		m := t.metrics
		task := events.Task{
			ID:          key(t),
			Command:     []string{ReplayCommand},
			CPU:         wfCores(m, lim),
			MemoryBytes: DefaultMemoryBytes,
			// A recorded runtime below zero is clock skew in the recording, not a request:
			// the task took no measurable time.
			ReplaySeconds: max(0, m.RuntimeInSeconds),
			Category:      wfCategory(t),
			InputBytes:    int64(min(t.inputBytes, math.MaxInt64/2)),
		}
		switch {
		case m.MemoryInBytes > 0:
			task.MemoryBytes = int64(math.Ceil(min(m.MemoryInBytes, math.MaxInt64/2)))
		case m.Memory > 0:
			task.MemoryBytes = int64(math.Ceil(min(m.Memory*1000, math.MaxInt64/2)))
		}
		if d := deps[i]; len(d) > 0 {
			slices.Sort(d)
			task.DependsOn = slices.Compact(d)
		}
		w.Tasks[i] = task
	}
	return w
}

func wf15Tasks(doc *wfDoc) []wfTask {
	spec := doc.Workflow.Specification
	sizes := make(map[string]float64, len(spec.Files))
	for _, f := range spec.Files {
		sizes[f.ID] = f.SizeInBytes
	}
	exec := map[string]*wfExecTask{}
	if doc.Workflow.Execution != nil {
		et := doc.Workflow.Execution.Tasks
		exec = make(map[string]*wfExecTask, len(et))
		for i := range et {
			exec[et[i].ID] = &et[i]
		}
	}
	out := make([]wfTask, len(spec.Tasks))
	for i, st := range spec.Tasks {
		t := wfTask{name: st.Name, id: st.ID, parents: st.Parents, children: st.Children}
		for _, f := range st.InputFiles {
			t.inputBytes += max(0, sizes[f])
		}
		e, ok := exec[st.ID]
		if !ok {
			e, ok = exec[st.Name]
		}
		if ok {
			t.metrics, t.hasMetrics = e.wfMetrics, true
		}
		t.category = st.Category
		out[i] = t
	}
	return out
}

func wf14Tasks(list []wf14Task) []wfTask {
	out := make([]wfTask, len(list))
	for i := range list {
		lt := &list[i]
		t := wfTask{name: lt.Name, id: lt.ID, parents: lt.Parents, children: lt.Children,
			metrics: lt.wfMetrics, hasMetrics: true}
		for _, f := range lt.Files {
			if f.Link == "input" {
				t.inputBytes += max(0, f.SizeInBytes)
			}
		}
		out[i] = t
	}
	return out
}

func uniqueNonEmpty(tasks []wfTask, field func(*wfTask) string) bool {
	seen := make(map[string]struct{}, len(tasks))
	for i := range tasks {
		s := field(&tasks[i])
		if s == "" {
			return false
		}
		if _, dup := seen[s]; dup {
			return false
		}
		seen[s] = struct{}{}
	}
	return true
}

// wfCores is coreCount (cores in 1.4) when recorded, else the average CPU utilisation in
// whole cores (avgCPU is a percentage; 180% needs two cores), at least one and at most the
// largest instance: a measured average cannot exceed the machine it ran on.
func wfCores(m wfMetrics, lim Limits) float64 {
	switch {
	case m.CoreCount > 0:
		return m.CoreCount
	case m.Cores > 0:
		return m.Cores
	case m.AvgCPU > 100 && !math.IsInf(m.AvgCPU, 0):
		return min(math.Ceil(m.AvgCPU/100), lim.MaxTaskCPU)
	}
	return 1
}

// importID is a WfFormat task's name or id as a Foresight task id. WfCommons' Nextflow
// tracer writes ids of over 200 bytes (the process path, the sample and a long decimal
// number); one past maxIDLen keeps its first bytes and gains a hash of the whole, the same
// at every reference, so the instance imports instead of being refused.
func importID(s string) string {
	if len(s) <= maxIDLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	n := maxIDLen - 17
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "#" + hex.EncodeToString(sum[:8])
}

// idSuffix is the "_ID0000001" Pegasus and Makeflow append to task names, and the
// "__ID…" WfCommons' Nextflow tracer appends.
var idSuffix = regexp.MustCompile(`_+ID\d+$`)

// wfCategory is the recorded category, else the program's name, else the name the task's
// instances share (see nameCategory).
func wfCategory(t *wfTask) string {
	switch {
	case t.category != "":
		return t.category
	case t.metrics.Category != "":
		return t.metrics.Category
	case t.metrics.Command != nil && isProgram(t.metrics.Command.Program):
		return path.Base(t.metrics.Command.Program)
	}
	name := t.name
	if name == "" {
		name = t.id
	}
	return nameCategory(name)
}

// isProgram reports whether a recorded command.program names a program. Nextflow records
// the process's whole shell script there, which names nothing and differs from one sample
// to the next.
func isProgram(program string) bool {
	return program != "" && !strings.ContainsFunc(program, unicode.IsSpace)
}

// nameCategory is a task name without what numbers or tags its instances: the id suffix
// ("mProject_ID0000001" is "mProject") and a Nextflow tag between double underscores
// ("NFCORE_SAREK:…:GATK4_APPLYBQSR__HG00096__ID17" is "NFCORE_SAREK:…:GATK4_APPLYBQSR",
// whatever the sample or interval).
func nameCategory(name string) string {
	name = idSuffix.ReplaceAllString(name, "")
	if process, _, ok := strings.Cut(name, "__"); ok && process != "" {
		return process
	}
	return name
}

// familyNoise are the name tokens that vary between runs of one workflow: timestamps
// (20200413T031424Z), dates and run counters.
var familyNoise = regexp.MustCompile(`(?i)^(\d+|\d{8}T\d{6}Z?|\d{4}-\d{2}-\d{2}.*)$`)

// FamilyFromName derives a workflow family from a WfFormat instance name by lower-casing
// it and dropping tokens that differ between runs — run counters and timestamps — so
// "Cycles-20200413T031424Z-0" and "cycles-20200414T101010Z-1" are one family, "cycles".
// Names that carry no family (WfInstances' "workflow-test") stay as they are; callers that
// know better (the file's directory, the user) set Workflow.Family themselves.
func FamilyFromName(name string) string {
	tokens := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '-' || r == '_' || r == ' ' })
	kept := tokens[:0]
	for _, tok := range tokens {
		if !familyNoise.MatchString(tok) {
			kept = append(kept, tok)
		}
	}
	if len(kept) == 0 {
		return strings.ToLower(strings.TrimSpace(name))
	}
	return strings.Join(kept, "-")
}

// FamilyFromFilename derives a family from a WfInstances file name, which by convention
// starts with the family: "srasearch-chameleon-10a-001.json" is "srasearch". A folder whose
// name begins the file's names the family too, which covers names without a dash:
// "sarek_germline/sarek_germline_w1_t01.json" is "sarek_germline". Without either, an
// underscore-separated name loses the run counters that end it (trimRunCounters). It
// returns "" when the name has no family at all.
func FamilyFromFilename(file string) string {
	file = strings.ToLower(strings.ReplaceAll(file, "\\", "/"))
	base := strings.TrimSuffix(path.Base(file), path.Ext(file))
	if dir := path.Base(path.Dir(file)); dir != "." && dir != "/" && len(base) > len(dir) &&
		strings.HasPrefix(base, dir) && strings.ContainsRune("-_.", rune(base[len(dir)])) {
		return dir
	}
	fam, _, dashed := strings.Cut(base, "-")
	if !dashed {
		fam = trimRunCounters(fam)
	}
	if fam == "" || familyNoise.MatchString(fam) {
		return ""
	}
	return fam
}

// runCounter is a trailing token that numbers a run rather than naming a workflow: "001",
// "t01", "w5", "run3".
var runCounter = regexp.MustCompile(`^[a-z]{0,3}\d+$`)

// trimRunCounters drops the run counters that end an underscore-separated file name, so
// "sarek_germline_w1_t01" is "sarek_germline"; a name that is nothing but counters stays.
func trimRunCounters(name string) string {
	tokens := strings.Split(name, "_")
	n := len(tokens)
	for n > 1 && runCounter.MatchString(tokens[n-1]) {
		n--
	}
	return strings.Join(tokens[:n], "_")
}
