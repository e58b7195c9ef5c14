package bench

// showcase keeps one workflow's plan and executions for the plots.
type showcase struct {
	trace *Trace
	execs map[string]*execution
}
