// Package spec parses and validates workflow submissions: Foresight's native spec (JSON
// or YAML) and WfCommons' WfFormat instances (schema 1.4 and 1.5), and exports executed
// workflows back to WfFormat 1.5.
//
// Model: a submission is untrusted input. Parsing is bounded by explicit Limits (body
// size, nesting depth, string length, tasks, edges) checked before the expensive work,
// and validation collects every problem at once — each naming the task and the field —
// the way Kubernetes' field-path validation errors do, so a user fixes a spec in one
// round trip. A limit violation is reported as too large (HTTP 413), anything else as
// unprocessable (HTTP 422).
//
// WfFormat follows the WfCommons project (Coleman et al., "WfCommons: A framework for
// enabling scientific workflow research and development", FGCS 2022; schemas at
// github.com/wfcommons/WfFormat): a trace's tasks become replay tasks that sleep for
// their recorded runtime, so any recorded run can be replayed through the real system.
//
// The package has no I/O, clock or goroutines: bytes in, a Workflow or an *Error out.
package spec
