package completion

// Task is one task of the graph.
type Task struct {
	ID      string
	Parents []string
	Retries int
}

// Outcome is the latest observation of a task.
type Outcome struct {
	Succeeded bool
	Attempt   int
}

// Result summarises a workflow.
type Result struct {
	Complete  bool
	Succeeded bool
	// Failed counts tasks that failed for good; Blocked those that never ran because of them.
	Failed, Blocked, Done int
}

// Evaluate applies the rule above. Parents must refer to tasks in the list.
func Evaluate(tasks []Task, latest map[string]Outcome) Result {
	byID := make(map[string]Task, len(tasks))
	for _, t := range tasks {
		byID[t.ID] = t
	}
	// failedForGood memoises "this task or an ancestor failed for good".
	memo := make(map[string]bool, len(tasks))
	var doomed func(id string, depth int) bool
	doomed = func(id string, depth int) bool {
		if v, ok := memo[id]; ok {
			return v
		}
		t := byID[id]
		o, seen := latest[id]
		v := seen && !o.Succeeded && o.Attempt > t.Retries
		for _, p := range t.Parents {
			if v || depth > len(tasks) {
				break
			}
			v = doomed(p, depth+1)
		}
		memo[id] = v
		return v
	}
	var r Result
	for _, t := range tasks {
		o, seen := latest[t.ID]
		switch {
		case seen && o.Succeeded:
			r.Done++
		case seen && o.Attempt > t.Retries:
			r.Failed++
		case doomed(t.ID, 0):
			r.Blocked++
		}
	}
	r.Complete = r.Done+r.Failed+r.Blocked == len(tasks)
	r.Succeeded = r.Complete && r.Done == len(tasks)
	return r
}
