package estimate

import (
	"math"

	"github.com/foresight-run/foresight/pkg/events"
)

// Sources an estimate can come from, recorded per task in the graph-built event.
const (
	SourceHistory     = "history"
	SourceUser        = "user"
	SourceFamilyPrior = "family-prior"
	SourceGlobalPrior = "global-prior"
	// SourceTrace marks a duration taken from a recorded trace (WfFormat runtimes). The
	// Estimate chain never returns it; callers replaying or analysing a trace do.
	SourceTrace = "trace"
)

// DefaultGlobalPriorSeconds is the runtime assumed for a task nothing is known about,
// used when the caller passes a non-positive prior: one minute, the order of magnitude
// of the median task in the WfCommons instances.
const DefaultGlobalPriorSeconds = 60.0

// Stats summarises earlier runs.
type Stats struct {
	Count       int
	MeanSeconds float64
}

// usable reports whether the stats are evidence at all.
func (s Stats) usable() bool {
	return s.Count > 0 && s.MeanSeconds > 0 && !math.IsInf(s.MeanSeconds, 0)
}

// History is the read side of task history the estimate needs; the graph builder's shell
// implements it over Postgres, tests and the simulator over maps.
type History interface {
	// BySignature summarises earlier runs of tasks with this signature.
	BySignature(sig string) (Stats, bool)
	// ByFamily summarises earlier runs of any task of this workflow family.
	ByFamily(family string) (Stats, bool)
}

// Estimate returns task t's runtime estimate in seconds and its source: history by
// signature, then the user's estimate, then the family prior, then the global prior
// (DefaultGlobalPriorSeconds when globalPriorSeconds is not positive). h may be nil.
func Estimate(t events.Task, sig, family string, h History, globalPriorSeconds float64) (seconds float64, source string) {
	if h != nil {
		if s, ok := h.BySignature(sig); ok && s.usable() {
			return s.MeanSeconds, SourceHistory
		}
	}
	if t.EstimatedSeconds > 0 && !math.IsInf(t.EstimatedSeconds, 0) {
		return t.EstimatedSeconds, SourceUser
	}
	if h != nil {
		if s, ok := h.ByFamily(family); ok && s.usable() {
			return s.MeanSeconds, SourceFamilyPrior
		}
	}
	if !(globalPriorSeconds > 0) || math.IsInf(globalPriorSeconds, 0) {
		globalPriorSeconds = DefaultGlobalPriorSeconds
	}
	return globalPriorSeconds, SourceGlobalPrior
}

// MapHistory is an in-memory History, for the simulator, the CLI and tests.
type MapHistory struct {
	Signatures map[string]Stats
	Families   map[string]Stats
}

var _ History = MapHistory{}

// BySignature implements History.
func (m MapHistory) BySignature(sig string) (Stats, bool) {
	s, ok := m.Signatures[sig]
	return s, ok
}

// ByFamily implements History.
func (m MapHistory) ByFamily(family string) (Stats, bool) {
	s, ok := m.Families[family]
	return s, ok
}
