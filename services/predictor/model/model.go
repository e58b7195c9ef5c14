package model

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Sources a Prediction can come from, most to least specific.
const (
	SourceHistory  = "history"
	SourceSiblings = "siblings"
	// SourceRunPrior is the run's finished tasks of other kinds: a prior from the run,
	// no evidence about this kind of task.
	SourceRunPrior    = "run-prior"
	SourceUser        = "user"
	SourceFamilyPrior = "family-prior"
	SourceGlobalPrior = "global-prior"
)

// ErrBadState is returned by UnmarshalJSON when persisted state cannot be restored.
var ErrBadState = errors.New("model: bad persisted state")

// Observation is one finished task, as the monitor reports it.
type Observation struct {
	Signature, Family, Category string
	// InputBytes is the total size of the task's input files, 0 when unknown.
	InputBytes int64
	// CPU is the number of cores the task requested.
	CPU            float64
	RuntimeSeconds float64
	// CPUSeconds is user plus system CPU time, 0 when unknown.
	CPUSeconds   float64
	PeakRSSBytes int64
}

// Query describes a task to predict.
type Query struct {
	Signature, Family, Category string
	InputBytes                  int64
	// CPU and MemoryBytes are what the task requested; they answer when nothing was observed.
	CPU                 float64
	MemoryBytes         int64
	UserEstimateSeconds float64
}

// Prediction is the model's forecast for one task. Runtimes are in seconds.
type Prediction struct {
	P50, P90, P99        float64
	MemoryP50, MemoryP90 int64
	// CPU is the number of cores the task is expected to keep busy.
	CPU float64
	// Source says which evidence answered: history, siblings, run-prior, user,
	// family-prior or global-prior.
	Source string
	// Samples is how many observations the runtime estimate rests on.
	Samples int
}

// Quantile interpolates the runtime at quantile q (0.5–0.99) in log space between the
// reported P50, P90 and P99, so a planner can ask for the quantile its policy chose.
func (p Prediction) Quantile(q float64) float64 {
	if p.P50 <= 0 {
		return p.P50
	}
	lerp := func(a, b, t float64) float64 {
		return math.Exp(math.Log(a) + t*(math.Log(b)-math.Log(a)))
	}
	z := zOf(q)
	switch {
	case q <= 0.5:
		return p.P50
	case q <= 0.9:
		return lerp(p.P50, p.P90, z/zScore(0.9))
	case q < 0.99:
		return lerp(p.P90, p.P99, (z-zScore(0.9))/(zScore(0.99)-zScore(0.9)))
	}
	return p.P99
}

// zOf is a rational approximation of the standard normal quantile (Abramowitz & Stegun
// 26.2.23), accurate to 4.5e-4, enough to place a quantile between reported ones.
func zOf(p float64) float64 {
	if p <= 0.5 {
		return 0
	}
	if p >= 1 {
		p = 0.9999
	}
	t := math.Sqrt(-2 * math.Log(1-p))
	return t - (2.515517+0.802853*t+0.010328*t*t)/(1+1.432788*t+0.189269*t*t+0.001308*t*t*t)
}

// Config holds the model's tunables. The zero value is not useful; start from DefaultConfig.
type Config struct {
	// Window is the number of most recent observations kept per key; it bounds memory and
	// lets the model follow drift (new hardware, new software version).
	Window int `json:"window"`
	// MinRegression is the number of observations with known input sizes before runtime is
	// regressed on input size.
	MinRegression int `json:"min_regression"`
	// MinLogInputSpread is the spread of log input bytes (10th to 90th percentile) below
	// which input size cannot explain runtime and a location estimate is used instead.
	MinLogInputSpread float64 `json:"min_log_input_spread"`
	// MinSlope and MaxSlope bound the log-log slope: runtime rarely falls with input size,
	// and a super-quadratic slope fitted from a few points is noise.
	MinSlope float64 `json:"min_slope"`
	MaxSlope float64 `json:"max_slope"`
	// PriorSlope is the log-log elasticity of runtime on input size assumed beyond the
	// input sizes a key has seen: halfway between "size does not matter" (0) and linear
	// work (1), because for a new data set either could be true and the midpoint bounds the
	// worst error in log space.
	PriorSlope float64 `json:"prior_slope"`
	// MaxExtrapolation is the largest distance, in log input units beyond the observed
	// range, the model extrapolates; further out it distrusts the size and ignores it.
	MaxExtrapolation float64 `json:"max_extrapolation"`
	// ExtrapolationSigma widens the upper quantiles per log unit of extrapolation.
	ExtrapolationSigma float64 `json:"extrapolation_sigma"`
	// PriorSeconds and PriorMemoryBytes answer when nothing at all is known. Scientific
	// workflow tasks typically run for seconds to minutes (the WfCommons instances'
	// per-workflow medians span 0.2 s to 90 s), so the default sits at their log-midpoint,
	// 10 s, which bounds the worst log error of a guess; ColdLogSigma gives it its spread.
	PriorSeconds     float64 `json:"prior_seconds"`
	PriorMemoryBytes int64   `json:"prior_memory_bytes"`
	// PriorLogSigma is the prior log-space spread of runtime around its median, and
	// PriorStrength its weight in pseudo-observations: small samples get wider quantiles.
	PriorLogSigma float64 `json:"prior_log_sigma"`
	PriorStrength float64 `json:"prior_strength"`
	// ColdLogSigma is the log-space spread of a runtime guessed from other kinds of task
	// (the run's other tasks, or PriorSeconds when nothing is known): within one workflow
	// task runtimes span three to four orders of magnitude, a log-sd near 1.5.
	ColdLogSigma float64 `json:"cold_log_sigma"`
	// UserLogSigma is the log-space spread assumed around a user's estimate.
	UserLogSigma float64 `json:"user_log_sigma"`
	// ParentShrink is the weight, in pseudo-observations, of the parent key's estimate in a
	// sparsely observed signature's.
	ParentShrink float64 `json:"parent_shrink"`
	// HalfLifeRuns is the age, in finished runs of the family (Run.Finish calls), at which
	// an observation counts half in its signature's median: recent runs matter more than
	// old ones. Age is counted in runs, not observations, because within one run the
	// order tasks finish in is their runtime order, which weighting must not favour.
	HalfLifeRuns float64 `json:"half_life_runs"`
	// SiblingShrink is the weight of history against a run's own siblings, in
	// pseudo-observations: with s finished siblings the run's offset gets s/(s+SiblingShrink).
	// A run-prior fit (the run's tasks of other kinds) is shrunk toward the prior with the
	// same weight.
	SiblingShrink float64 `json:"sibling_shrink"`
	// SiblingSpreadWeight is the weight, in pseudo-observations, of history's spread
	// against the siblings' own when a run has siblings.
	SiblingSpreadWeight float64 `json:"sibling_spread_weight"`
	// RunLogSigma is the prior log-space spread of a whole run's runtimes around history
	// (another machine type, a loaded file system), and RunSigmaStrength its weight in
	// pseudo-runs against the deviations finished runs reported.
	RunLogSigma      float64 `json:"run_log_sigma"`
	RunSigmaStrength float64 `json:"run_sigma_strength"`
	// CalibrationWindow is how many recent conformity scores (realised runtime against
	// the band predicted for it) each calibration pool keeps; it bounds memory and lets
	// the calibration follow drift. Absent from state persisted before calibration
	// existed, it takes the default.
	CalibrationWindow int `json:"calibration_window"`
	// ACIStep is γ of adaptive conformal inference (Gibbs & Candès 2021): how far one
	// miss (or hit) moves a stream's conformal level. Their recommended 0.005 corrects a
	// persistent miss-rate error within a few hundred tasks without chasing noise.
	ACIStep float64 `json:"aci_step"`
	// CoverageMargin raises the conformal level P90 is calibrated at (0.9 plus it, then
	// ACI's adjustment). Conformal calibration covers 90% of realisations exchangeable
	// with its scores; a new run is not (another machine, a loaded file system), and
	// ACI at its step needs hundreds of tasks to notice. On the development traces, P90
	// covered 83.7–85.7% of actuals at dispatch over foresight bench seeds 1–6 without a
	// margin, and 90.2–92.6% when scored the other way round (each family's other runs as
	// history); at 0.04, 85.6–87.9% and 92.7–94.7%, inside the 85–95% target both ways,
	// for plans 2–3% dearer. On a long stream ACI takes the margin back where it over-covers.
	CoverageMargin float64 `json:"coverage_margin"`
}

// DefaultConfig returns settings that work across the WfCommons families without tuning to
// any one of them.
func DefaultConfig() Config {
	return Config{
		Window:              256,
		MinRegression:       5,
		MinLogInputSpread:   math.Log(1.5),
		MinSlope:            0,
		MaxSlope:            1.5,
		PriorSlope:          0.5,
		ExtrapolationSigma:  0.3,
		MaxExtrapolation:    math.Log(1000),
		PriorSeconds:        10,
		PriorMemoryBytes:    512 << 20,
		PriorLogSigma:       0.5,
		PriorStrength:       3,
		UserLogSigma:        0.7,
		ColdLogSigma:        1.5,
		ParentShrink:        0.5,
		HalfLifeRuns:        3,
		SiblingShrink:       1,
		SiblingSpreadWeight: 6,
		RunLogSigma:         0.25,
		RunSigmaStrength:    2,
		CalibrationWindow:   256,
		ACIStep:             0.005,
		CoverageMargin:      0.04,
	}
}

// withDefaults fills zero fields, so a Config decoded from older state still works.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Window = cmp.Or(c.Window, d.Window)
	c.MinRegression = cmp.Or(c.MinRegression, d.MinRegression)
	c.MinLogInputSpread = cmp.Or(c.MinLogInputSpread, d.MinLogInputSpread)
	c.MaxSlope = cmp.Or(c.MaxSlope, d.MaxSlope)
	c.PriorSlope = cmp.Or(c.PriorSlope, d.PriorSlope)
	c.ExtrapolationSigma = cmp.Or(c.ExtrapolationSigma, d.ExtrapolationSigma)
	c.MaxExtrapolation = cmp.Or(c.MaxExtrapolation, d.MaxExtrapolation)
	c.PriorSeconds = cmp.Or(c.PriorSeconds, d.PriorSeconds)
	c.PriorMemoryBytes = cmp.Or(c.PriorMemoryBytes, d.PriorMemoryBytes)
	c.PriorLogSigma = cmp.Or(c.PriorLogSigma, d.PriorLogSigma)
	c.PriorStrength = cmp.Or(c.PriorStrength, d.PriorStrength)
	c.UserLogSigma = cmp.Or(c.UserLogSigma, d.UserLogSigma)
	c.ColdLogSigma = cmp.Or(c.ColdLogSigma, d.ColdLogSigma)
	c.ParentShrink = cmp.Or(c.ParentShrink, d.ParentShrink)
	c.HalfLifeRuns = cmp.Or(c.HalfLifeRuns, d.HalfLifeRuns)
	c.SiblingShrink = cmp.Or(c.SiblingShrink, d.SiblingShrink)
	c.SiblingSpreadWeight = cmp.Or(c.SiblingSpreadWeight, d.SiblingSpreadWeight)
	c.RunLogSigma = cmp.Or(c.RunLogSigma, d.RunLogSigma)
	c.RunSigmaStrength = cmp.Or(c.RunSigmaStrength, d.RunSigmaStrength)
	c.CalibrationWindow = cmp.Or(c.CalibrationWindow, d.CalibrationWindow)
	c.ACIStep = cmp.Or(c.ACIStep, d.ACIStep)
	c.CoverageMargin = cmp.Or(c.CoverageMargin, d.CoverageMargin)
	return c
}

// point is one stored observation. Raw values are kept (not logs) so the JSON state is
// readable and never holds NaN.
type point struct {
	In    int64   `json:"in,omitempty"`
	Rt    float64 `json:"rt"`
	Mem   int64   `json:"mem,omitempty"`
	Cores float64 `json:"cores,omitempty"`
	// Ep is the family's run epoch when the observation was made (see Run.Finish).
	Ep int64 `json:"ep,omitempty"`
}

// series is a bounded window of observations for one key, with a cached fit.
type series struct {
	Obs   []point `json:"obs"`
	Next  int     `json:"next"`
	Count int64   `json:"count"`
	// Fam is the family key whose run epochs age this series' observations; empty for
	// pools that mix kinds of task, which are never recency-weighted.
	Fam string `json:"fam,omitempty"`
	// EpN counts the observations seen in the newest run epoch, EpAt: the reservoir
	// sampling in add draws against it.
	EpN   int64 `json:"epn,omitempty"`
	EpAt  int64 `json:"epat,omitempty"`
	fit   *fit
	fitEp int64
	// sfit is the fit scoringFit last used, made at observation count sfitCount.
	sfit      *fit
	sfitEp    int64
	sfitCount int64
}

// add keeps p in the window. A full window drops its oldest observation, except when
// that one is from p's own run epoch: then the window holds nothing older than this run,
// and plain first-in-first-out would keep the run's last finishers, which in a wide
// fan-out are its slowest tasks (on the traces, a 1000-task bwa stage's last 256 had
// nearly twice the stage's median runtime). Instead the run's observations are
// reservoir-sampled (Vitter's Algorithm R): each of the EpN seen so far stays with
// probability window/EpN, so the window is a fair sample of the run. The draw is a hash of
// Count, so replaying the same observations rebuilds the same window. Pools that mix kinds
// of task (Fam empty) have no epochs to compare and stay first-in-first-out.
func (s *series) add(p point, window int) {
	s.Count++
	s.fit = nil
	if s.EpN == 0 || p.Ep != s.EpAt {
		s.EpAt, s.EpN = p.Ep, 0
	}
	s.EpN++
	if len(s.Obs) < window {
		s.Obs = append(s.Obs, p)
		return
	}
	if s.Fam == "" || s.Obs[s.Next%len(s.Obs)].Ep != p.Ep {
		s.Obs[s.Next%len(s.Obs)] = p
		s.Next = (s.Next + 1) % len(s.Obs)
		return
	}
	if j := splitmix64(uint64(s.Count)) % uint64(s.EpN); j < uint64(len(s.Obs)) {
		s.Obs[j] = p
	}
}

// splitmix64 is a fixed bijective mix (Steele, Lea & Flood, OOPSLA 2014) used as a
// deterministic, stateless random draw.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fit is a key's fitted runtime, memory and CPU model.
type fit struct {
	n int
	// Runtime: log runtime = loc + slope*(x - xc) where x is log input bytes.
	reg            bool
	loc, slope, xc float64
	// hasX says some observations had input sizes; minX and maxX bound them.
	hasX       bool
	minX, maxX float64
	res        []float64 // sorted residuals
	priorSlope float64
	// maxExtrapolation is Config.MaxExtrapolation, copied so the fit is self-contained.
	maxExtrapolation float64
	memN             int
	memLoc           float64
	memRes           []float64
	cpuN             int
	cpu              float64
}

// scoringFit returns a fit of the series for scoring a new observation: the current fit
// when one is cached, else the last one made while fewer than an eighth of the window's
// observations have arrived since, else a fresh one. The lag is what a prediction made
// before those observations would have seen, and it bounds refitting to one per
// len(Obs)/8 observations however the shell interleaves Observe and Predict.
func (s *series) scoringFit(cfg Config, now int64) *fit {
	switch {
	case s.fit != nil && s.fitEp == now:
		s.sfit, s.sfitEp, s.sfitCount = s.fit, now, s.Count
	case s.sfit == nil || s.sfitEp != now || s.Count-s.sfitCount > int64(len(s.Obs)/8):
		s.fit, s.fitEp = fitPoints(s.Obs, cfg, now), now
		s.sfit, s.sfitEp, s.sfitCount = s.fit, now, s.Count
	}
	return s.sfit
}

// getFit returns the cached fit, refitting after new observations or when the family's
// run epoch (now) has moved on; now < 0 means no recency weighting.
func (s *series) getFit(cfg Config, now int64) *fit {
	if s.fit == nil || s.fitEp != now {
		s.fit, s.fitEp = fitPoints(s.Obs, cfg, now), now
	}
	return s.fit
}

func fitPoints(obs []point, cfg Config, now int64) *fit {
	f := &fit{}
	var xs, ys, ally, mems, cores []float64
	var wx, wall, wmem []float64
	for _, p := range obs {
		// Observations from recent runs weigh more: a median over the whole window would
		// need half a window of new observations to follow a new software version.
		w := 1.0
		if now >= 0 {
			w = math.Exp2(-float64(max(now-p.Ep, 0)) / cfg.HalfLifeRuns)
		}
		if p.Rt > 0 {
			y := math.Log(p.Rt)
			ally = append(ally, y)
			wall = append(wall, w)
			if p.In > 0 {
				xs = append(xs, math.Log(float64(p.In)))
				ys = append(ys, y)
				wx = append(wx, w)
			}
		}
		if p.Mem > 0 {
			mems = append(mems, math.Log(float64(p.Mem)))
			wmem = append(wmem, w)
		}
		if p.Cores > 0 {
			cores = append(cores, p.Cores)
		}
	}
	f.n = len(ally)
	if f.n > 0 {
		f.fitRuntime(xs, ys, wx, ally, wall, cfg)
	}
	if len(mems) > 0 {
		f.memN = len(mems)
		f.memLoc = weightedMedian(mems, wmem)
		f.memRes = make([]float64, len(mems))
		for i, m := range mems {
			f.memRes[i] = m - f.memLoc
		}
		slices.Sort(f.memRes)
	}
	if len(cores) > 0 {
		f.cpuN = len(cores)
		f.cpu = median(cores)
	}
	return f
}

func (f *fit) fitRuntime(xs, ys, wx, ally, wall []float64, cfg Config) {
	f.priorSlope, f.maxExtrapolation = cfg.PriorSlope, cfg.MaxExtrapolation
	if len(xs) > 0 {
		sx := slices.Clone(xs)
		slices.Sort(sx)
		f.hasX = true
		f.xc = quantile(sx, 0.5)
		f.minX, f.maxX = sx[0], sx[len(sx)-1]
		if len(xs) >= cfg.MinRegression && quantile(sx, 0.9)-quantile(sx, 0.1) >= cfg.MinLogInputSpread {
			f.reg = true
			f.slope = min(max(theilSen(xs, ys), cfg.MinSlope), cfg.MaxSlope)
			partial := make([]float64, len(xs))
			for i := range xs {
				partial[i] = ys[i] - f.slope*(xs[i]-f.xc)
			}
			f.loc = weightedMedian(partial, wx)
			f.res = make([]float64, len(xs))
			for i := range xs {
				f.res[i] = partial[i] - f.loc
			}
			slices.Sort(f.res)
			return
		}
	}
	f.loc = weightedMedian(ally, wall)
	f.res = make([]float64, len(ally))
	for i, y := range ally {
		f.res[i] = y - f.loc
	}
	slices.Sort(f.res)
}

// mu is the fitted median log runtime for log input x (hasX false when unknown).
func (f *fit) mu(x float64, hasX bool) float64 {
	m, _ := f.at(x, hasX)
	return m
}

// at returns the fitted median log runtime for log input x and how far, in log units, x
// lies outside the inputs the fit has seen. Within the range the fit answers: the
// regression line, or the location when sizes barely vary. Beyond it (a bigger data set
// than any seen) the fitted slope is trusted for one e-fold and the prior elasticity
// takes over after that: a log-log line is a fair local model, not a law.
func (f *fit) at(x float64, hasX bool) (mu, dx float64) {
	if !hasX || !f.hasX {
		return f.loc, 0
	}
	in := min(max(x, f.minX), f.maxX)
	dx = x - in
	if math.Abs(dx) > f.maxExtrapolation {
		// A thousandfold change in input for the same signature is more often a change
		// in what was counted as input (a database listed in one run, not the next) than
		// in the work: ignore the size rather than extrapolate wildly.
		return f.loc, 0
	}
	if !f.reg {
		return f.loc + f.priorSlope*dx, dx
	}
	near := min(max(x, f.minX-1), f.maxX+1)
	return f.loc + f.slope*(near-f.xc) + f.priorSlope*(x-near), dx
}

// offset is the log-space distance from the median to quantile p: the empirical residual
// quantile blended with the prior's normal quantile, weight n against k pseudo-samples.
func offset(res []float64, p, priorSigma, k float64) float64 {
	n := float64(len(res))
	emp := 0.0
	if len(res) > 0 {
		emp = quantile(res, p) - quantile(res, 0.5)
	}
	return (n*emp + k*zScore(p)*priorSigma) / (n + k)
}

// Model is the online, per-signature runtime/memory/CPU model. It is not safe for
// concurrent use; the shell serialises access.
type Model struct {
	cfg  Config
	keys map[string]*series
	// runDev holds, per family key, finished runs' median log residuals per signature.
	runDev map[string][]float64
	// epoch counts finished runs per family key (Run.Finish), the clock recency uses.
	epoch map[string]int64
	// calib holds the conformal calibration pools (see calibrated), by channel, source
	// and family.
	calib map[string]*calibrator
	// aci holds each prediction stream's adaptive level adjustments, by aciKey.
	aci map[string]levels
	// gen counts the model's changes, so a Run knows when its memoised predictions are
	// stale (see Run.PredictAt).
	gen uint64
}

// New returns an empty model.
func New(cfg Config) *Model {
	return &Model{cfg: cfg.withDefaults(), keys: map[string]*series{}, runDev: map[string][]float64{}, epoch: map[string]int64{}, calib: map[string]*calibrator{}, aci: map[string]levels{}}
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// keyChain lists the keys a task is pooled under, most specific first. Empty parts skip
// their level so unrelated tasks never share a key by accident.
func keyChain(sig, family, category string) (sigKey, catKey, famKey string) {
	if sig != "" {
		sigKey = "s\x00" + sig
	}
	if category != "" {
		catKey = "c\x00" + family + "\x00" + category
	}
	if family != "" {
		famKey = "f\x00" + family
	}
	return
}

const globalKey = "g"

func toPoint(o Observation) point {
	p := point{In: max(o.InputBytes, 0), Rt: o.RuntimeSeconds, Mem: max(o.PeakRSSBytes, 0)}
	if o.CPUSeconds > 0 && o.RuntimeSeconds > 0 {
		p.Cores = min(o.CPUSeconds/o.RuntimeSeconds, maxCores)
	}
	return p
}

// Observe adds a finished task to every key it belongs to. Observations with a
// non-positive or non-finite runtime carry no runtime information and are ignored.
func (m *Model) Observe(o Observation) {
	if !(o.RuntimeSeconds > 0) || math.IsInf(o.RuntimeSeconds, 0) {
		return
	}
	m.gen++
	s, c, f := keyChain(o.Signature, o.Family, o.Category)
	// Score the prediction history would have made for this task before it learns from
	// it: the online, predict-then-observe stream conformal calibration needs.
	e := m.estimateRuntime(queryOf(o), m.scoringFitOf)
	ak := aciKey(chanModel, f)
	m.aci[ak] = m.aci[ak].step(o.RuntimeSeconds, m.calibrated(e, f, nil, m.aci[ak], chanModel), m.cfg.ACIStep)
	if s90, s99, ok := scoreOf(e, o.RuntimeSeconds); ok {
		m.addScore(chanModel, e.calClass(), f, s90, s99)
	}
	p := toPoint(o)
	ek := cmp.Or(f, globalKey)
	p.Ep = m.epoch[ek]
	for i, k := range []string{s, c, f, globalKey} {
		if k == "" {
			continue
		}
		se := m.keys[k]
		if se == nil {
			se = &series{}
			// Only one kind of task lives under a signature or a category: those age by
			// run. Family and global pools mix kinds, and recency there would only track
			// which kind happened to finish last.
			if i < 2 {
				se.Fam = ek
			}
			m.keys[k] = se
		}
		se.add(p, m.cfg.Window)
	}
}

func (m *Model) fitOf(key string) *fit {
	s, now := m.seriesOf(key)
	if s == nil {
		return nil
	}
	return s.getFit(m.cfg, now)
}

// scoringFitOf is fitOf for scoring observations (see calibrated): it may lag the data
// by a few observations (series.scoringFit) so that scoring every observation does not
// refit every key on every observation.
func (m *Model) scoringFitOf(key string) *fit {
	s, now := m.seriesOf(key)
	if s == nil {
		return nil
	}
	return s.scoringFit(m.cfg, now)
}

// seriesOf returns key's series and the run epoch that ages it (-1: no recency).
func (m *Model) seriesOf(key string) (*series, int64) {
	if key == "" {
		return nil, 0
	}
	s := m.keys[key]
	if s == nil {
		return nil, 0
	}
	now := int64(-1)
	if s.Fam != "" {
		now = m.epoch[s.Fam]
	}
	return s, now
}

// Predict forecasts a task. The runtime answers from the most specific evidence:
// signature history, the same category within the family, the user's estimate, the
// family, then everything observed (or Config's prior). Memory and CPU fall back
// independently, ending at what the task requested.
func (m *Model) Predict(q Query) Prediction {
	_, _, fk := keyChain(q.Signature, q.Family, q.Category)
	return m.calibrated(m.estimate(q), fk, nil, m.aci[aciKey(chanModel, fk)], chanModel)
}

// queryOf is the query a task would have been predicted with, from its observation.
func queryOf(o Observation) Query {
	return Query{Signature: o.Signature, Family: o.Family, Category: o.Category, InputBytes: o.InputBytes, CPU: o.CPU}
}

// est is a runtime estimate in log space before it becomes a Prediction: the median mu,
// the within-run offsets to each quantile, and tau, the between-run spread that a run's
// siblings can later explain away.
type est struct {
	mu, o50, o90, o99 float64
	tau               float64
	src               string
	// cal names the calibration pools when they differ from src's (see calClass).
	cal          string
	n            int
	mem50, mem90 int64
	cpu          float64
}

// prediction is the uncalibrated forecast: the raw bands of bands.
func (e est) prediction() Prediction { return e.predictionAt(e.bands()) }

// predictionAt is the forecast with log-space offsets o90 and o99 from the median.
func (e est) predictionAt(o90, o99 float64) Prediction {
	sec := func(l float64) float64 { return min(max(math.Exp(l), 1e-9), maxSeconds) }
	return Prediction{
		P50: sec(e.mu + e.o50), P90: sec(e.mu + o90), P99: sec(e.mu + o99),
		MemoryP50: e.mem50, MemoryP90: e.mem90, CPU: e.cpu,
		Source: e.src, Samples: e.n,
	}
}

func (m *Model) estimate(q Query) est {
	e := m.estimateRuntime(q, m.fitOf)
	sk, ck, fk := keyChain(q.Signature, q.Family, q.Category)
	e.mem50, e.mem90 = m.memory(q, sk, ck, fk)
	e.cpu = m.cpu(q, sk, ck, fk)
	return e
}

// estimateRuntime is the runtime part of estimate, reading fits through fitOf. Keys are
// fitted only as the fallback reaches them.
func (m *Model) estimateRuntime(q Query, fitOf func(string) *fit) est {
	sk, ck, fk := keyChain(q.Signature, q.Family, q.Category)
	x, hasX := 0.0, q.InputBytes > 0
	if hasX {
		x = math.Log(float64(q.InputBytes))
	}
	levels := []struct {
		key string
		src string
	}{
		{sk, SourceHistory},
		{ck, SourceHistory},
		{"", SourceUser},
		{fk, SourceFamilyPrior},
		{globalKey, SourceGlobalPrior},
	}
	e, found := est{}, false
	for i, l := range levels {
		if l.src == SourceUser {
			if q.UserEstimateSeconds > 0 {
				e = m.fromLog(math.Log(q.UserEstimateSeconds), nil, m.cfg.UserLogSigma, 0, SourceUser, 0)
				found = true
				break
			}
			continue
		}
		lv := struct {
			f   *fit
			src string
		}{fitOf(l.key), l.src}
		if lv.f == nil || lv.f.n == 0 {
			continue
		}
		// Input size explains runtime within a kind of task; the family and global pools
		// mix kinds, where a regression on size would only rank kinds by their inputs.
		mu, dx := lv.f.at(x, hasX && i < 2)
		// Shrink a sparse signature toward its category within the family (empirical
		// Bayes): one observation of a signature is evidence, not a verdict. Only the
		// category is a fair parent; a family mixes kinds of task whose runtimes differ by
		// orders of magnitude.
		if i == 0 {
			if parent := fitOf(ck); parent != nil && parent.n > lv.f.n {
				n := float64(lv.f.n)
				k := m.cfg.ParentShrink
				mu = (n*mu + k*parent.mu(x, hasX)) / (n + k)
			}
		}
		e = m.fromLog(mu, lv.f.res, m.cfg.PriorLogSigma, dx, lv.src, lv.f.n)
		if lv.src == SourceHistory {
			// History holds earlier runs; the next run may sit apart from all of them.
			e.tau = m.runSigma(fk)
		}
		found = true
		break
	}
	if !found {
		e = m.fromLog(math.Log(m.cfg.PriorSeconds), nil, m.cfg.ColdLogSigma, 0, SourceGlobalPrior, 0)
	}
	return e
}

// fromLog builds a runtime estimate from a log-space median and residuals; dx, the
// extrapolation in log input units, widens the upper quantiles because the elasticity
// used beyond the data is a guess.
func (m *Model) fromLog(mu float64, res []float64, sigma, dx float64, src string, n int) est {
	k := m.cfg.PriorStrength
	w := m.cfg.ExtrapolationSigma * math.Abs(dx)
	// mu is already the (recency-weighted) median; quantiles are offsets from it.
	o50 := 0.0
	o90 := max(offset(res, 0.9, sigma, k)+zScore(0.9)*w, o50)
	o99 := max(offset(res, 0.99, sigma, k)+zScore(0.99)*w, o90)
	return est{mu: mu, o50: o50, o90: o90, o99: o99, src: src, n: n}
}

// runSigma is the between-run log spread for a family: the root mean square of finished
// runs' median residuals per signature (see Run.Finish), shrunk toward
// Config.RunLogSigma with RunSigmaStrength pseudo-runs.
func (m *Model) runSigma(famKey string) float64 {
	d := m.runDev[cmp.Or(famKey, globalKey)]
	var ss float64
	for _, v := range d {
		ss += v * v
	}
	k := m.cfg.RunSigmaStrength
	t0 := m.cfg.RunLogSigma
	return math.Sqrt((ss + k*t0*t0) / (float64(len(d)) + k))
}

// recordRunDeviation remembers one finished run's median residual for one signature.
func (m *Model) recordRunDeviation(famKey string, d float64) {
	k := cmp.Or(famKey, globalKey)
	w := append(m.runDev[k], d)
	if len(w) > m.cfg.Window {
		w = w[len(w)-m.cfg.Window:]
	}
	m.runDev[k] = w
}

func (m *Model) memory(q Query, keys ...string) (p50, p90 int64) {
	for _, k := range append(keys, globalKey) {
		f := m.fitOf(k)
		if f == nil || f.memN == 0 {
			continue
		}
		o90 := max(offset(f.memRes, 0.9, m.cfg.PriorLogSigma/2, m.cfg.PriorStrength), 0)
		return bytesOf(math.Exp(f.memLoc)), bytesOf(math.Exp(f.memLoc + o90))
	}
	if q.MemoryBytes > 0 {
		return q.MemoryBytes, q.MemoryBytes
	}
	return m.cfg.PriorMemoryBytes, m.cfg.PriorMemoryBytes
}

// hasMemory reports whether key has peak-memory observations of its own.
func (m *Model) hasMemory(key string) bool {
	f := m.fitOf(key)
	return f != nil && f.memN > 0
}

func (m *Model) cpu(q Query, keys ...string) float64 {
	for _, k := range keys {
		if f := m.fitOf(k); f != nil && f.cpuN > 0 {
			return f.cpu
		}
	}
	if q.CPU > 0 {
		return q.CPU
	}
	return 1
}

func isBad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// state is the persisted form of a Model.
type state struct {
	Version int                  `json:"version"`
	Config  Config               `json:"config"`
	Keys    map[string]*series   `json:"keys"`
	RunDev  map[string][]float64 `json:"run_dev,omitempty"`
	Epochs  map[string]int64     `json:"epochs,omitempty"`
	// Calib is absent from state persisted before calibration existed; such a model
	// starts uncalibrated and calibrates as tasks finish.
	Calib map[string]*calibrator `json:"calib,omitempty"`
	ACI   map[string]levels      `json:"aci,omitempty"`
}

const stateVersion = 1

// MarshalJSON persists the model's configuration and observation windows; fits are
// recomputed lazily after loading.
func (m *Model) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(state{Version: stateVersion, Config: m.cfg, Keys: m.keys, RunDev: m.runDev, Epochs: m.epoch, Calib: m.calib, ACI: m.aci})
	if err != nil {
		return nil, fmt.Errorf("marshal model: %w", err)
	}
	return b, nil
}

// UnmarshalJSON restores a model persisted by MarshalJSON.
func (m *Model) UnmarshalJSON(b []byte) error {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("unmarshal model: %w: %w", ErrBadState, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("unmarshal model: version %d: %w", st.Version, ErrBadState)
	}
	cfg := st.Config.withDefaults()
	keys := st.Keys
	if keys == nil {
		keys = map[string]*series{}
	}
	for k, s := range keys {
		if s == nil {
			delete(keys, k)
			continue
		}
		if len(s.Obs) > cfg.Window {
			s.Obs = s.Obs[:cfg.Window]
		}
		if s.Next < 0 || (len(s.Obs) > 0 && s.Next >= len(s.Obs)) || len(s.Obs) == 0 {
			s.Next = 0
		}
	}
	runDev := st.RunDev
	if runDev == nil {
		runDev = map[string][]float64{}
	}
	epoch := st.Epochs
	if epoch == nil {
		epoch = map[string]int64{}
	}
	calib := st.Calib
	if calib == nil {
		calib = map[string]*calibrator{}
	}
	for k, c := range calib {
		if c == nil || len(c.S90) != len(c.S99) {
			delete(calib, k)
			continue
		}
		if len(c.S90) > cfg.CalibrationWindow {
			c.S90, c.S99 = c.S90[:cfg.CalibrationWindow], c.S99[:cfg.CalibrationWindow]
		}
		if c.Next < 0 || len(c.S90) == 0 || c.Next >= len(c.S90) {
			c.Next = 0
		}
		if slices.ContainsFunc(c.S90, isBad) || slices.ContainsFunc(c.S99, isBad) {
			delete(calib, k)
			continue
		}
		c.resort()
	}
	aci := st.ACI
	if aci == nil {
		aci = map[string]levels{}
	}
	for k, l := range aci {
		aci[k] = levels{}.plus(l) // back within bounds
	}
	m.cfg, m.keys, m.runDev, m.epoch, m.calib, m.aci = cfg, keys, runDev, epoch, calib, aci
	m.gen++
	return nil
}
