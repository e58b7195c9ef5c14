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

// familyBuckets is the number of hashed family features. With the joint features each
// bucket learns its own knob preferences, so collisions blur families together. At 16
// buckets two of the benchmark's nine families (cycles, montage) shared one; at 32 none
// do, and on the benchmark's learning curve (mean of seeds 1-24) cumulative regret against
// the best fixed action fell from 2.97 to 2.29 with nothing else changed. Ten unseen
// families still collide somewhere four times in five at 32, but mostly in pairs. The cost
// is 378 joint features: A's upper triangle is 71 thousand numbers.
const familyBuckets = 32

// Dim is the length of Features.Vector.
const Dim = 10 + familyBuckets

// shapeWeight scales the nine shape features (sizes, parallelism, dispersion, history,
// pool) against the bias and the family slot. The ridge prior shrinks every coefficient
// alike, so a block's prior weight grows with its squared norm: unscaled, the shape
// features' (2 to 3 on typical workflows) outweighed the family's (1), and the model
// explained families' different knob preferences by their sizes, which a handful of
// families cannot support. At 1/3 the shape block weighs a quarter of the family slot;
// it still tells workflows of one family apart and guides unseen families. On the
// benchmark's learning curve (36 recorded runs) the last-20 objective went from 0.478 to
// 0.469 and cumulative regret from 3.23 to 2.85. Dropping the shape features altogether
// did about as well there (0.471, 2.29), but would leave a new family only the bias.
const shapeWeight = 1.0 / 3

// Vector returns the context: a bias term; log-scaled sizes divided so that typical
// workflows land in [0, 1] (LinUCB's confidence width assumes bounded features), the
// parallelism ratio and dispersion, all weighted by shapeWeight; and the family hashed
// into familyBuckets one-hot slots.
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
			v = 0
		}
		if i > 0 {
			v *= shapeWeight
		}
		x[i] = v
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
	// Ridge is the prior precision λ of the reward regression.
	Ridge float64 `json:"ridge"`
	// MinPulls is the number of rewards seen before the policy leaves the safe default.
	MinPulls int `json:"min_pulls"`
	// MaxExploreRegret is the estimated reward per workflow, on average, that exploration
	// may give up against the greedy choice: each workflow adds it to a budget (capped at
	// ten workflows' worth) and an exploratory choice spends its estimated shortfall.
	MaxExploreRegret float64 `json:"max_explore_regret"`
}

// DefaultConfig returns conservative settings. Near a plan, Reward moves by about the
// log ratio of the weighted objective, so MaxExploreRegret 0.02 lets exploration cost
// about 2% of cost-and-makespan per workflow on average: the scale of the differences
// between knob settings, and a fifth of the 0.1 first tried, which on the benchmark's
// 100-workflow learning curve explored so much the policy ended worse than the best fixed
// action.
func DefaultConfig() Config {
	return Config{Alpha: 0.5, Ridge: 1, MinPulls: 5, MaxExploreRegret: 0.02}
}

// LinUCB is a LinUCB policy whose reward model is shared across actions. It is not safe
// for concurrent use.
type LinUCB struct {
	actions []Action
	dim     int
	cfg     Config
	// psi holds each action's feature vector: one-hot slots for each distinct value of
	// each knob, so that a reward seen for "plan at P75" informs every action with that
	// quantile, and a last slot common to all actions for the context's baseline.
	psi [][]float64
	// A = λI + Σ zzᵀ, Ainv its inverse, B = Σ r z, over joint features z = x ⊗ psi(a).
	A, Ainv *mat.Dense
	B       []float64
	pulls   []int
	total   int
	// replays counts the replayed rewards learned (Replayed).
	replays int
	// budget is the estimated reward exploration may still give up (see Config).
	budget float64
	// sumR2 is Σ w·r² and weight Σ w over the rewards learned (a played reward weighs 1,
	// a replayed one ReplayWeight), for the noise estimate (see noise).
	sumR2, weight float64
	// theta caches A⁻¹B between updates.
	theta *mat.VecDense
}

// New returns a policy over actions for contexts of length dim. actions[0] is the safe
// default.
func New(actions []Action, dim int, cfg Config) *LinUCB {
	if cfg.Ridge <= 0 {
		cfg.Ridge = 1
	}
	p := &LinUCB{actions: append([]Action(nil), actions...), dim: max(dim, 1), cfg: cfg}
	p.init()
	d := p.jointDim()
	p.A, p.Ainv = mat.NewDense(d, d, nil), mat.NewDense(d, d, nil)
	for i := range d {
		p.A.Set(i, i, cfg.Ridge)
		p.Ainv.Set(i, i, 1/cfg.Ridge)
	}
	p.B = make([]float64, d)
	p.pulls = make([]int, len(actions))
	return p
}

// baselineScale is the value of the action-independent slot every action's features end
// with, so that x ⊗ psi(a) holds x itself: a per-context baseline. Without it the baseline
// could only live in the knob slots, and a knob value played mostly by families that score
// badly took their low baseline with it: on the benchmark a family that did well was told
// P50 was bad for it because blast and bwa, which score worst, plan at P50. The ridge
// prior shrinks every coefficient alike, so the slot's value sets how much of a context's
// baseline it takes rather than the knob slots: at 3, nine parts in twelve. Baselines
// differ between families by several tenths and knob effects by a few hundredths, so the
// baseline should be the cheaper explanation. On the benchmark's learning curve (mean of
// seeds 1-24) scales 1, 2, 3 and 5 ended at last-20 objectives 0.506, 0.494, 0.489 and
// 0.496, against 0.497 without the slot (lower is better).
const baselineScale = 3

// init derives the action features from the action set.
func (p *LinUCB) init() {
	knobs := []func(Action) float64{
		func(a Action) float64 { return a.RuntimeQuantile },
		func(a Action) float64 { return a.WarmAheadSeconds },
		func(a Action) float64 { return a.MemoryHeadroom },
	}
	type slot struct {
		knob int
		v    float64
	}
	index := map[slot]int{}
	for _, a := range p.actions {
		for k, f := range knobs {
			if _, ok := index[slot{k, f(a)}]; !ok {
				index[slot{k, f(a)}] = len(index)
			}
		}
	}
	p.psi = make([][]float64, len(p.actions))
	for i, a := range p.actions {
		v := make([]float64, len(index), len(index)+1)
		for k, f := range knobs {
			v[index[slot{k, f(a)}]] = 1
		}
		p.psi[i] = append(v, baselineScale)
	}
}

func (p *LinUCB) jointDim() int {
	if len(p.psi) == 0 {
		return p.dim
	}
	return p.dim * len(p.psi[0])
}

// joint returns z = x ⊗ psi(a).
func (p *LinUCB) joint(x []float64, idx int) *mat.VecDense {
	xs := p.fit(x)
	ps := p.psi[idx]
	z := make([]float64, 0, len(xs)*len(ps))
	for _, xv := range xs {
		for _, pv := range ps {
			z = append(z, xv*pv)
		}
	}
	return mat.NewVecDense(len(z), z)
}

// Actions returns the policy's actions.
func (p *LinUCB) Actions() []Action { return append([]Action(nil), p.actions...) }

// Pulls returns how many rewards, played or replayed, the policy has learned from.
func (p *LinUCB) Pulls() int { return p.total }

// Replays returns how many replayed rewards the policy has learned from (Replayed).
func (p *LinUCB) Replays() int { return p.replays }

// Score returns action idx's estimated mean reward and confidence width for context x,
// the width in units of the reward noise.
func (p *LinUCB) Score(x []float64, idx int) (mean, width float64) {
	z := p.joint(x, idx)
	var az mat.VecDense
	az.MulVec(p.Ainv, z)
	return mat.Dot(p.coef(), z), math.Sqrt(max(mat.Dot(z, &az), 0))
}

// coef returns θ = A⁻¹B, cached between updates.
func (p *LinUCB) coef() *mat.VecDense {
	if p.theta == nil {
		p.theta = mat.NewVecDense(len(p.B), nil)
		p.theta.MulVec(p.Ainv, mat.NewVecDense(len(p.B), p.B))
	}
	return p.theta
}

// greedy returns the action with the highest estimated mean for x and that mean.
func (p *LinUCB) greedy(x []float64) (int, float64) {
	best, bm := 0, math.Inf(-1)
	for i := range p.actions {
		if m, _ := p.Score(x, i); m > bm {
			best, bm = i, m
		}
	}
	return best, bm
}

// fit pads or truncates x to the policy's dimension and zeroes non-finite values, so a
// caller with a different feature version degrades instead of panicking.
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
// agree, "explore" when the optimistic choice's estimated shortfall against the greedy
// one fits the exploration budget, and "exploit (exploration capped)" otherwise.
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
	sigma := p.noise()
	for i := range p.actions {
		m, w := p.Score(x, i)
		means[i] = m
		if m > gMean {
			greedy, gMean = i, m
		}
		if s := m + p.cfg.Alpha*sigma*w; s > uScore {
			ucb, uScore = i, s
		}
	}
	switch {
	case ucb == greedy:
		return greedy, fmt.Sprintf("exploit: %s mean %.3f", p.actions[greedy].Name, gMean)
	case gMean-means[ucb] <= p.budget:
		return ucb, fmt.Sprintf("explore: %s ucb %.3f (mean %.3f vs greedy %.3f)", p.actions[ucb].Name, uScore, means[ucb], gMean)
	}
	return greedy, fmt.Sprintf("exploit (exploration capped): %s mean %.3f, exploring %s would give up %.3f of budget %.3f",
		p.actions[greedy].Name, gMean, p.actions[ucb].Name, gMean-means[ucb], p.budget)
}

// Update learns that playing action idx in context x earned reward. Out-of-range indexes
// and non-finite rewards are ignored: a corrupt reward must not poison the policy.
func (p *LinUCB) Update(x []float64, idx int, reward float64) {
	if idx < 0 || idx >= len(p.actions) || math.IsNaN(reward) || math.IsInf(reward, 0) {
		return
	}
	// Exploration budget: every workflow earns MaxExploreRegret, and a choice other than
	// the greedy one (before this update) spends its shortfall. The safe default played
	// while the policy knows little is the baseline exploration is measured against, not
	// exploration: charging it, when untried actions still score the prior's 0, left the
	// budget so far in debt that the policy could not explore for its first hundred
	// workflows.
	if p.total >= p.cfg.MinPulls {
		spent := 0.0
		if g, gMean := p.greedy(x); g != idx {
			m, _ := p.Score(x, idx)
			spent = max(gMean-m, 0)
		}
		p.budget = min(p.budget+p.cfg.MaxExploreRegret-spent, budgetCap*p.cfg.MaxExploreRegret)
	}
	p.learn(x, idx, reward, 1)
	p.pulls[idx]++
	p.total++
}

// Replayed learns the reward action idx would have earned in context x, as a replay of
// the finished workflow under that action estimates it (counterfactual feedback, see
// Replay). It weighs ReplayWeight against a played reward's 1, spends no exploration
// budget, and counts toward MinPulls: the safe default guards a policy that knows little,
// and a replay is knowledge. (Counting only played rewards kept the safe default for the
// benchmark's first five workflows, and its scored traces came out 1% slower and 0.5%
// dearer on seeds 1-3.) Out-of-range indexes and non-finite rewards are ignored, as in
// Update.
func (p *LinUCB) Replayed(x []float64, idx int, reward float64) {
	if idx < 0 || idx >= len(p.actions) || math.IsNaN(reward) || math.IsInf(reward, 0) {
		return
	}
	p.learn(x, idx, reward, ReplayWeight)
	p.replays++
	p.total++
}

// ReplayWeight is how much a replayed reward counts against a played one in the weighted
// ridge regression: a replay knows the tasks' true runtimes, but not the launch latencies
// that were drawn, the re-plans, or anything else the simulator leaves out.
const ReplayWeight = 0.5

// learn adds the observation (z, reward) with weight w to the ridge regression:
// A += w·zzᵀ, B += w·r·z.
func (p *LinUCB) learn(x []float64, idx int, reward, w float64) {
	z := p.joint(x, idx)
	var zz mat.Dense
	zz.Outer(w, z, z)
	p.A.Add(p.A, &zz)
	// Sherman–Morrison keeps A⁻¹ current in O(d²) per update.
	var u mat.VecDense
	u.MulVec(p.Ainv, z)
	den := 1/w + mat.Dot(z, &u)
	var uu mat.Dense
	uu.Outer(1/den, &u, &u)
	p.Ainv.Sub(p.Ainv, &uu)
	for i := range p.B {
		p.B[i] += w * reward * z.AtVec(i)
	}
	p.theta = nil
	p.sumR2 += w * reward * reward
	p.weight += w
}

// noise estimates the reward noise's standard deviation from the weighted ridge residuals,
// (Σ w·r² − bᵀA⁻¹b) / Σ w, shrunk toward noisePrior with the weight of noisePriorPulls
// played rewards.
// The confidence width sqrt(zᵀA⁻¹z) is in units of the noise, so an estimate of it is
// what makes Alpha mean the same on a problem whose rewards vary by 0.01 as on one whose
// rewards vary by 0.5.
func (p *LinUCB) noise() float64 {
	rss := max(p.sumR2-mat.Dot(p.coef(), mat.NewVecDense(len(p.B), p.B)), 0)
	return math.Sqrt((noisePriorPulls*noisePrior*noisePrior + rss) / (noisePriorPulls + p.weight))
}

// The noise prior: 0.5 is about the largest standard deviation a reward in [-1, 1] is
// likely to have, so until rewards say otherwise the policy explores as LinUCB with a
// unit noise scale would at Alpha/2.
const noisePrior, noisePriorPulls = 0.5, 5.0

// budgetCap bounds the saved-up exploration budget, in workflows' worth of
// MaxExploreRegret, so a long quiet spell cannot fund a burst of bad choices.
const budgetCap = 10

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
	Version int      `json:"version"`
	Actions []Action `json:"actions"`
	Dim     int      `json:"dim"`
	Config  Config   `json:"config"`
	Total   int      `json:"total"`
	Pulls   []int    `json:"pulls"`
	Replays int      `json:"replays"`
	Budget  float64  `json:"budget"`
	// SumR2 is Σ w·r² and Weight Σ w, for the noise estimate.
	SumR2  float64 `json:"sum_r2"`
	Weight float64 `json:"weight"`
	// AUpper is A's upper triangle, row by row: A is symmetric.
	AUpper []float64 `json:"a_upper"`
	B      []float64 `json:"b"`
}

// stateVersion 3 added the noise estimate's Σ r² and 32 family buckets, and stores A's
// upper triangle. A version 2 state is refused rather than converted: its family features
// hashed into 16 buckets, which are not the first 16 of 32, and its budget is in debt from
// the safe-default plays. Version 4 weights the shape features by shapeWeight, so a
// version 3 state's coefficients for them are off by a factor of three.
const stateVersion = 4

// MarshalJSON persists the policy.
func (p *LinUCB) MarshalJSON() ([]byte, error) {
	d := len(p.B)
	upper := make([]float64, 0, d*(d+1)/2)
	for i := range d {
		for j := i; j < d; j++ {
			upper = append(upper, p.A.At(i, j))
		}
	}
	st := state{
		Version: stateVersion, Actions: p.actions, Dim: p.dim, Config: p.cfg, Total: p.total, Replays: p.replays,
		Pulls: p.pulls, Budget: p.budget, SumR2: p.sumR2, Weight: p.weight, AUpper: upper, B: p.B,
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("marshal policy: %w", err)
	}
	return b, nil
}

// UnmarshalJSON restores a policy persisted by MarshalJSON. A state of another version
// returns ErrBadState saying which: the caller starts afresh.
func (p *LinUCB) UnmarshalJSON(b []byte) error {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("unmarshal policy: %w: %w", ErrBadState, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("unmarshal policy: state version %d, this policy reads version %d: %w", st.Version, stateVersion, ErrBadState)
	}
	if st.Dim <= 0 || len(st.Actions) == 0 || len(st.Pulls) != len(st.Actions) {
		return fmt.Errorf("unmarshal policy: dim %d, %d actions, %d pull counts: %w", st.Dim, len(st.Actions), len(st.Pulls), ErrBadState)
	}
	q := &LinUCB{actions: st.Actions, dim: st.Dim, cfg: st.Config, total: st.Total, replays: st.Replays, pulls: st.Pulls, budget: st.Budget, sumR2: st.SumR2, weight: st.Weight}
	if q.weight == 0 {
		// Saved before replays were learned: every reward was played, and weighed 1.
		q.weight = float64(st.Total)
	}
	q.init()
	d := q.jointDim()
	if len(st.AUpper) != d*(d+1)/2 || len(st.B) != d {
		return fmt.Errorf("unmarshal policy: state sized for %d features, want %d: %w", len(st.B), d, ErrBadState)
	}
	q.A = mat.NewDense(d, d, nil)
	k := 0
	for i := range d {
		for j := i; j < d; j++ {
			q.A.Set(i, j, st.AUpper[k])
			q.A.Set(j, i, st.AUpper[k])
			k++
		}
	}
	var inv mat.Dense
	if err := inv.Inverse(q.A); err != nil {
		return fmt.Errorf("unmarshal policy: %w: %w", ErrBadState, err)
	}
	q.Ainv, q.B = &inv, append([]float64(nil), st.B...)
	*p = *q
	return nil
}
