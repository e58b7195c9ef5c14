package bench

// LearningPoint is one workflow of the learning-curve run.
type LearningPoint struct {
	Index  int    `json:"index"`
	Trace  string `json:"trace"`
	Family string `json:"family"`
	Action string `json:"action"`
	Reason string `json:"reason"`
	// Objective is the policy's normalised objective (lower is better); BestFixed that of
	// the best single action in hindsight on the same workflow.
	Objective        float64 `json:"objective"`
	BestFixed        float64 `json:"best_fixed"`
	BestForFamily    float64 `json:"best_for_family"`
	CumulativeRegret float64 `json:"cumulative_regret"`
}

// LearningCurve is the RL policy's learning run (issue 4).
type LearningCurve struct {
	Workflows       int             `json:"workflows"`
	Actions         []string        `json:"actions"`
	BestFixedAction string          `json:"best_fixed_action"`
	Points          []LearningPoint `json:"points"`
	// Last20 are mean objectives over the last 20 workflows.
	Last20Policy        float64 `json:"last20_policy"`
	Last20BestFixed     float64 `json:"last20_best_fixed"`
	Last20BestPerFamily float64 `json:"last20_best_per_family"`
}
