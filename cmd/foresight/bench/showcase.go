package bench

// showcase keeps one workflow's plan and executions for the plots.
type showcase struct {
	trace *Trace
	execs map[string]*execution
}

// pickShowcase chooses the workflow the Gantt and capacity plots show: the first trace
// (in scoring order) with 20–200 tasks, a size whose chart stays readable, else the first.
func pickShowcase(trs []*Trace) *Trace {
	for _, tr := range trs {
		if n := len(tr.Tasks); n >= 20 && n <= 200 {
			return tr
		}
	}
	return trs[0]
}
