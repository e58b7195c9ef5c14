// Package estimate picks the runtime the graph builder's analysis uses for each task
// before anything has run, and records where it came from.
//
// Model: a fixed fallback chain, most specific evidence first — the mean of earlier runs
// with the same task signature (history), then the runtime the user wrote in the spec,
// then the mean task runtime of the workflow family, then a global prior. This is the
// "history first, then prior" lookup of Pegasus' and HTCondor's runtime-estimate
// practice and of Chirkin et al., "Execution time estimation for workflow scheduling"
// (FGCS 2017), reduced to what is known at submission. Richer models (quantiles, input
// size regression, siblings) live in the predictor; this chain only has to be a sound,
// explainable starting point.
//
// Annotate ties the graph builder's decision together: estimates, then the dag analysis
// under them, returned as the graph-built event payload.
//
// A recorded trace runtime (events.Task.ReplaySeconds) is deliberately not a source: it
// is the answer for the run being replayed, and using it would leak the truth into
// predictions scored against it.
package estimate
