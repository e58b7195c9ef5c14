package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrBadState is returned by UnmarshalJSON when persisted state cannot be restored.
var ErrBadState = errors.New("policy: bad persisted state")

// Action is one setting of the planning knobs.
type Action struct {
	Name string `json:"name"`
	// RuntimeQuantile is the predicted-runtime quantile the planner plans for.
	RuntimeQuantile float64 `json:"runtime_quantile"`
	// MemoryHeadroom multiplies predicted peak memory.
	MemoryHeadroom float64 `json:"memory_headroom"`
	// WarmAheadSeconds is how long before a wave needs them VMs are warmed.
	WarmAheadSeconds float64 `json:"warm_ahead_seconds"`
}

// DefaultActions returns the grid quantile {0.5, 0.75, 0.9} × warm-ahead {0, 30, 90 s} ×
// headroom {1.1, 1.3}. Index 0 is the safe default: P90 runtimes, 30 s warm-ahead, 1.3×
// memory — conservative on makespan and OOM risk at some cost.
func DefaultActions() []Action {
	safe := Action{RuntimeQuantile: 0.9, MemoryHeadroom: 1.3, WarmAheadSeconds: 30}
	safe.Name = actionName(safe)
	out := []Action{safe}
	for _, q := range []float64{0.5, 0.75, 0.9} {
		for _, w := range []float64{0, 30, 90} {
			for _, h := range []float64{1.1, 1.3} {
				a := Action{RuntimeQuantile: q, MemoryHeadroom: h, WarmAheadSeconds: w}
				if a == (Action{RuntimeQuantile: safe.RuntimeQuantile, MemoryHeadroom: safe.MemoryHeadroom, WarmAheadSeconds: safe.WarmAheadSeconds}) {
					continue
				}
				a.Name = actionName(a)
				out = append(out, a)
			}
		}
	}
	return out
}

func actionName(a Action) string {
	return fmt.Sprintf("q%02.0f-w%.0f-h%.1f", a.RuntimeQuantile*100, a.WarmAheadSeconds, a.MemoryHeadroom)
}

// Features describe a workflow and the pool at planning time.
type Features struct {
	Tasks                                     int
	CriticalPathSeconds, TotalWorkCoreSeconds float64
	PeakWidth                                 int
	// MeanCV is the mean predicted runtime dispersion, (P90-P50)/P50 averaged over tasks.
	MeanCV          float64
	HistorySamples  int
	HotVMs, WarmVMs int
	Family          string
}

// familyBuckets is the number of hashed family features.
const familyBuckets = 4

// Dim is the length of Features.Vector.
const Dim = 10 + familyBuckets

// Vector returns the context: a bias term, log-scaled sizes divided so that typical
// workflows land in [0, 1] (LinUCB's confidence width assumes bounded features), the
// parallelism ratio, dispersion, and the family hashed into familyBuckets one-hot slots.
func (f Features) Vector() []float64 {
	lg := func(v, scale float64) float64 { return math.Log1p(max(v, 0)) / scale }
	par := 0.0
	if f.CriticalPathSeconds > 0 {
		par = f.TotalWorkCoreSeconds / f.CriticalPathSeconds
	}
	x := []float64{
		1,
		lg(float64(f.Tasks), 10),
		lg(f.CriticalPathSeconds, 12),
		lg(f.TotalWorkCoreSeconds, 15),
		lg(float64(f.PeakWidth), 8),
		lg(par, 8),
		min(max(f.MeanCV, 0), 2) / 2,
		lg(float64(f.HistorySamples), 10),
		lg(float64(f.HotVMs), 6),
		lg(float64(f.WarmVMs), 6),
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			x[i] = 0
		}
	}
	fam := make([]float64, familyBuckets)
	if f.Family != "" {
		h := fnv.New32a()
		h.Write([]byte(f.Family))
		fam[h.Sum32()%familyBuckets] = 1
	}
	return append(x, fam...)
}

// Config holds the policy's tunables.
type Config struct {
	// Alpha scales the confidence width: larger explores more.
	Alpha float64 `json:"alpha"`
	// Ridge is the prior precision λ of each action's regression.
	Ridge float64 `json:"ridge"`
	// MinPulls is the number of rewards seen before the policy leaves the safe default.
	MinPulls int `json:"min_pulls"`
	// MaxExploreRegret caps how much estimated mean reward an exploratory choice may give
	// up against the greedy one.
	MaxExploreRegret float64 `json:"max_explore_regret"`
}

// DefaultConfig returns conservative settings.
func DefaultConfig() Config {
	return Config{Alpha: 0.5, Ridge: 1, MinPulls: 5, MaxExploreRegret: 0.1}
}

// arm is one action's ridge regression.
type arm struct {
	A     *mat.Dense // λI + Σ x xᵀ
	Ainv  *mat.Dense
	B     []float64 // Σ r x
	Pulls int
}

// LinUCB is the disjoint LinUCB policy. It is not safe for concurrent use.
type LinUCB struct {
	actions []Action
	dim     int
	cfg     Config
	arms    []*arm
	total   int
}

// New returns a policy over actions for contexts of length dim. actions[0] is the safe
// default.
func New(actions []Action, dim int, cfg Config) *LinUCB {
	if cfg.Ridge <= 0 {
		cfg.Ridge = 1
	}
	p := &LinUCB{actions: append([]Action(nil), actions...), dim: dim, cfg: cfg}
	p.arms = make([]*arm, len(actions))
	for i := range p.arms {
		p.arms[i] = newArm(dim, cfg.Ridge)
	}
	return p
}

func newArm(dim int, ridge float64) *arm {
	a := mat.NewDense(dim, dim, nil)
	ai := mat.NewDense(dim, dim, nil)
	for i := range dim {
		a.Set(i, i, ridge)
		ai.Set(i, i, 1/ridge)
	}
	return &arm{A: a, Ainv: ai, B: make([]float64, dim)}
}

// Actions returns the policy's actions.
func (p *LinUCB) Actions() []Action { return append([]Action(nil), p.actions...) }

// Pulls returns how many rewards the policy has learned from.
func (p *LinUCB) Pulls() int { return p.total }

// Score returns action idx's estimated mean reward and confidence width for context x.
func (p *LinUCB) Score(x []float64, idx int) (mean, width float64) {
	a := p.arms[idx]
	xv := mat.NewVecDense(p.dim, p.fit(x))
	var theta, ax mat.VecDense
	theta.MulVec(a.Ainv, mat.NewVecDense(p.dim, a.B))
	ax.MulVec(a.Ainv, xv)
	return mat.Dot(&theta, xv), math.Sqrt(max(mat.Dot(xv, &ax), 0))
}

// fit pads or truncates x to the policy's dimension, so a caller with a different
// feature version degrades instead of panicking.
func (p *LinUCB) fit(x []float64) []float64 {
	out := make([]float64, p.dim)
	copy(out, x)
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[i] = 0
		}
	}
	return out
}

// Choose returns the action to play for context x and why: "safe-default" while fewer
// than MinPulls rewards were seen, "exploit" when the greedy and optimistic choices
// agree, "explore" when the optimistic choice is within MaxExploreRegret of the greedy
// one, and "exploit (exploration capped)" otherwise.
func (p *LinUCB) Choose(x []float64) (idx int, reason string) {
	if len(p.actions) == 0 {
		return 0, "safe-default: no actions"
	}
	if p.total < p.cfg.MinPulls {
		return 0, fmt.Sprintf("safe-default: %d of %d rewards seen", p.total, p.cfg.MinPulls)
	}
	greedy, ucb := 0, 0
	gMean, uScore := math.Inf(-1), math.Inf(-1)
	means := make([]float64, len(p.actions))
	for i := range p.actions {
		m, w := p.Score(x, i)
		means[i] = m
		if m > gMean {
			greedy, gMean = i, m
		}
		if s := m + p.cfg.Alpha*w; s > uScore {
			ucb, uScore = i, s
		}
	}
	switch {
	case ucb == greedy:
		return greedy, fmt.Sprintf("exploit: %s mean %.3f", p.actions[greedy].Name, gMean)
	case gMean-means[ucb] <= p.cfg.MaxExploreRegret:
		return ucb, fmt.Sprintf("explore: %s ucb %.3f (mean %.3f vs greedy %.3f)", p.actions[ucb].Name, uScore, means[ucb], gMean)
	}
	return greedy, fmt.Sprintf("exploit (exploration capped): %s mean %.3f", p.actions[greedy].Name, gMean)
}

// Update learns that playing action idx in context x earned reward. Out-of-range indexes
// and non-finite rewards are ignored: a corrupt reward must not poison the policy.
func (p *LinUCB) Update(x []float64, idx int, reward float64) {
	if idx < 0 || idx >= len(p.arms) || math.IsNaN(reward) || math.IsInf(reward, 0) {
		return
	}
	a := p.arms[idx]
	xs := p.fit(x)
	xv := mat.NewVecDense(p.dim, xs)
	var xx mat.Dense
	xx.Outer(1, xv, xv)
	a.A.Add(a.A, &xx)
	// Sherman–Morrison keeps A⁻¹ current in O(d²) per update.
	var u mat.VecDense
	u.MulVec(a.Ainv, xv)
	den := 1 + mat.Dot(xv, &u)
	var uu mat.Dense
	uu.Outer(1/den, &u, &u)
	a.Ainv.Sub(a.Ainv, &uu)
	for i, v := range xs {
		a.B[i] += reward * v
	}
	a.Pulls++
	p.total++
}

// Reward scores a finished workflow; higher is better, in [-1, 1]. The shape:
//
//	base = -tanh(λ·ln(makespan/plannedMakespan) + (1-λ)·ln(cost/plannedCost))
//	reward = clamp(base - 0.25·min(oomKills, 4) - 0.5·[missedDeadline], -1, 1)
//
// Log ratios make "twice as slow" and "half as fast" symmetric and keep one outlier from
// dominating; tanh bounds the result. λ in [0,1] weighs makespan against cost (the
// workflow's objective). An OOM kill wastes the work done and a missed deadline breaks a
// promise, so both are penalised beyond their cost. The planned values must not depend on
// the action chosen (use the lower bounds or the safe default's plan): scoring an action
// against its own plan would reward padding.
func Reward(costUSD, makespanS, plannedCostUSD, plannedMakespanS, lambda float64, oomKills int, missedDeadline bool) float64 {
	lr := func(a, b float64) float64 {
		if !(a > 0) || !(b > 0) {
			return 0
		}
		return math.Log(a / b)
	}
	lambda = min(max(lambda, 0), 1)
	r := -math.Tanh(lambda*lr(makespanS, plannedMakespanS) + (1-lambda)*lr(costUSD, plannedCostUSD))
	r -= 0.25 * float64(min(max(oomKills, 0), 4))
	if missedDeadline {
		r -= 0.5
	}
	return min(max(r, -1), 1)
}

// state is the persisted form of a LinUCB; A⁻¹ is recomputed on load.
type state struct {
	Version int        `json:"version"`
	Actions []Action   `json:"actions"`
	Dim     int        `json:"dim"`
	Config  Config     `json:"config"`
	Total   int        `json:"total"`
	Arms    []armState `json:"arms"`
}

type armState struct {
	A     []float64 `json:"a"`
	B     []float64 `json:"b"`
	Pulls int       `json:"pulls"`
}

const stateVersion = 1

// MarshalJSON persists the policy.
func (p *LinUCB) MarshalJSON() ([]byte, error) {
	st := state{Version: stateVersion, Actions: p.actions, Dim: p.dim, Config: p.cfg, Total: p.total}
	for _, a := range p.arms {
		st.Arms = append(st.Arms, armState{A: append([]float64(nil), a.A.RawMatrix().Data...), B: a.B, Pulls: a.Pulls})
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("marshal policy: %w", err)
	}
	return b, nil
}

// UnmarshalJSON restores a policy persisted by MarshalJSON.
func (p *LinUCB) UnmarshalJSON(b []byte) error {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("unmarshal policy: %w: %w", ErrBadState, err)
	}
	if st.Version != stateVersion || st.Dim <= 0 || len(st.Arms) != len(st.Actions) {
		return fmt.Errorf("unmarshal policy: version %d, dim %d, %d arms for %d actions: %w", st.Version, st.Dim, len(st.Arms), len(st.Actions), ErrBadState)
	}
	arms := make([]*arm, len(st.Arms))
	for i, as := range st.Arms {
		if len(as.A) != st.Dim*st.Dim || len(as.B) != st.Dim {
			return fmt.Errorf("unmarshal policy: arm %d has wrong size: %w", i, ErrBadState)
		}
		a := mat.NewDense(st.Dim, st.Dim, append([]float64(nil), as.A...))
		var inv mat.Dense
		if err := inv.Inverse(a); err != nil {
			return fmt.Errorf("unmarshal policy: arm %d: %w: %w", i, ErrBadState, err)
		}
		arms[i] = &arm{A: a, Ainv: &inv, B: append([]float64(nil), as.B...), Pulls: as.Pulls}
	}
	p.actions, p.dim, p.cfg, p.total, p.arms = st.Actions, st.Dim, st.Config, st.Total, arms
	return nil
}
