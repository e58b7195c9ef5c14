package model

import (
	"cmp"
	"math"
	"slices"
)

// Calibration channels: predictions made from history alone (Model.Predict, at
// submission) and inside a run with its siblings (Run.Predict, at dispatch) err
// differently, so each is calibrated against its own realised scores.
const (
	chanModel = "m"
	chanRun   = "r"
)

// minBandLog floors the log-space width a score is normalised by, so a degenerate band
// (every observation identical) cannot turn one deviation into an unbounded score.
const minBandLog = 1e-3

// calibrator is a bounded window of conformity scores for one pool of predictions: for
// each realised runtime y against a prediction with log median mu and raw log-space
// offsets o90, o99 to its P90 and P99, the scores (log y - mu)/o90 and (log y - mu)/o99.
// The band is then rescaled by the scores' conformal quantile (see scale). Scores are
// normalised by the band, not raw log ratios, so one pool can hold predictions of very
// different confidence (a cold guess and a well-observed signature) and still say how
// much each band must stretch: the locally weighted conformal score of Lei et al. (2018).
type calibrator struct {
	S90   []float64 `json:"s90"`
	S99   []float64 `json:"s99"`
	Next  int       `json:"next"`
	Count int64     `json:"count"`
	// sorted90 and sorted99 are the windows kept sorted as scores arrive, so reading a
	// quantile never writes: a Run may read the Model while another Run reads it too.
	sorted90, sorted99 []float64
}

func (c *calibrator) add(s90, s99 float64, window int) {
	c.Count++
	if len(c.S90) < window {
		c.S90 = append(c.S90, s90)
		c.S99 = append(c.S99, s99)
		c.sorted90, c.sorted99 = insertSorted(c.sorted90, s90), insertSorted(c.sorted99, s99)
		return
	}
	i := c.Next % len(c.S90)
	c.sorted90 = insertSorted(removeSorted(c.sorted90, c.S90[i]), s90)
	c.sorted99 = insertSorted(removeSorted(c.sorted99, c.S99[i]), s99)
	c.S90[i], c.S99[i] = s90, s99
	c.Next = (i + 1) % len(c.S90)
}

// resort rebuilds the sorted windows after loading persisted state.
func (c *calibrator) resort() {
	c.sorted90, c.sorted99 = slices.Clone(c.S90), slices.Clone(c.S99)
	slices.Sort(c.sorted90)
	slices.Sort(c.sorted99)
}

// sorted returns the sorted window for P90 or P99; nil for a nil calibrator.
func (c *calibrator) sorted(at99 bool) []float64 {
	switch {
	case c == nil:
		return nil
	case at99:
		return c.sorted99
	}
	return c.sorted90
}

func (c *calibrator) len() int {
	if c == nil {
		return 0
	}
	return len(c.S90)
}

func insertSorted(s []float64, v float64) []float64 {
	i, _ := slices.BinarySearch(s, v)
	return slices.Insert(s, i, v)
}

func removeSorted(s []float64, v float64) []float64 {
	if i, ok := slices.BinarySearch(s, v); ok {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// conformalQuantile returns the split-conformal quantile at level p of the scores in the
// sorted windows a and b together: the ceil((n+1)p)-th smallest of n (Angelopoulos &
// Bates 2021, §1.1). Under exchangeability a band stretched by it covers a new
// realisation with probability at least p; ok is false when n is too small for that order
// statistic to exist (n+1 < 1/(1-p)).
func conformalQuantile(p float64, a, b []float64) (float64, bool) {
	n := len(a) + len(b)
	k := int(math.Ceil(float64(n+1) * p))
	if n == 0 || k > n {
		return 0, false
	}
	return kth(k, a, b), true
}

// levelQuantile is conformalQuantile at a level adapted by ACI, clamped to the window's
// order statistics: an adapted level past the largest score asks for the largest. a and b
// must not both be empty.
func levelQuantile(level float64, a, b []float64) float64 {
	n := len(a) + len(b)
	return kth(min(max(int(math.Ceil(float64(n+1)*level)), 1), n), a, b)
}

// kth returns the k-th smallest (1-based, clamped to [1, len(a)+len(b)]) of the sorted
// windows a and b together, without merging them: it binary-searches how many of the k
// come from a, so a quantile costs O(log n), not O(n). Calibration reads one for every
// prediction, and a revision re-predicts a whole stage.
func kth(k int, a, b []float64) float64 {
	k = min(max(k, 1), len(a)+len(b))
	// i of the k from a and k-i from b is right when a[i-1] <= b[k-i] and
	// b[k-i-1] <= a[i]; search the smallest i with b[k-i-1] <= a[i].
	lo, hi := max(0, k-len(b)), min(k, len(a))
	for lo < hi {
		i := (lo + hi) / 2
		if b[k-i-1] <= a[i] {
			hi = i
		} else {
			lo = i + 1
		}
	}
	i := lo
	switch {
	case i == 0:
		return b[k-1]
	case i == k:
		return a[k-1]
	}
	return max(a[i-1], b[k-i-1])
}

// bands returns the raw log-space offsets from the median to P90 and P99: within-run and
// between-run deviations are independent, so their spreads add in quadrature.
func (e est) bands() (o90, o99 float64) {
	comb := func(o, z float64) float64 { return math.Sqrt(o*o + z*z*e.tau*e.tau) }
	o90 = max(comb(e.o90, zScore(0.9)), e.o50)
	o99 = max(comb(e.o99, zScore(0.99)), o90)
	return o90, o99
}

// calRunFit is the calibration class of a prediction fitted to the run's own finished
// tasks without history: to its siblings (reported as siblings) or, failing those, to
// its tasks of other kinds (reported as run-prior). Both miss like a handful of points
// fitted with no prior, not like history corrected by siblings, and pooling them with
// that well-behaved kind let it set their bands: a family's first run covered 55–70% of
// its actuals under P90 on srasearch, soykb and cycles. The two share one class because
// they occur together, in a family's first runs, and apart neither gathers enough scores:
// calibrated separately, the run-prior fits' large misses no longer widened the
// siblings-only bands, and P90 coverage on the traces fell from 85.6–86.3% to 84.2–84.9%
// (foresight bench, seeds 1–3).
const calRunFit = "run-fit"

// calClass is the calibration class of e: its source unless set otherwise.
func (e est) calClass() string { return cmp.Or(e.cal, e.src) }

// calibKeys lists the pools a prediction is calibrated against, most specific first:
// the same source (history, siblings, a prior) in the same family, that source anywhere,
// then every source in the family and everywhere. Predictions from different evidence
// miss differently; the broader pools answer until the specific one has enough scores.
func calibKeys(ch, src, famKey string) [4]string {
	f := cmp.Or(famKey, globalKey)
	return [4]string{
		ch + "\x00" + src + "\x00" + f,
		ch + "\x00" + src + "\x00" + globalKey,
		ch + "\x00\x00" + f,
		ch + "\x00\x00" + globalKey,
	}
}

// scoreOf is the conformity score pair of a realised runtime y (seconds) against the raw
// estimate e made for it before it was observed; ok is false for a runtime that carries
// no information.
func scoreOf(e est, y float64) (s90, s99 float64, ok bool) {
	if !(y > 0) || math.IsInf(y, 0) {
		return 0, 0, false
	}
	o90, o99 := e.bands()
	r := math.Log(y) - e.mu
	return r / max(o90, minBandLog), r / max(o99, minBandLog), true
}

// addScore files a score pair under every pool of calibKeys(ch, src, famKey).
func (m *Model) addScore(ch, src, famKey string, s90, s99 float64) {
	keys := calibKeys(ch, src, famKey)
	for i, k := range keys {
		if i == 1 && k == keys[0] || i == 3 && k == keys[2] {
			continue // the family is the global pool: count the score once
		}
		c := m.calib[k]
		if c == nil {
			c = &calibrator{}
			m.calib[k] = c
		}
		c.add(s90, s99, m.cfg.CalibrationWindow)
	}
}

// levels are the adaptive conformal inference adjustments of one prediction stream: how
// far above (or below) 0.9 and 0.99 the conformal level is set so that the stream's
// realised miss rate tracks the target even when scores are not exchangeable (Gibbs &
// Candès 2021, α_{t+1} = α_t + γ(α − err_t)).
type levels struct {
	A90 float64 `json:"a90"`
	A99 float64 `json:"a99"`
}

// step applies one ACI update after a realised runtime y against the calibrated p. The
// levels are kept within [0.5, 1], the range a finite window can express, so a run of
// misses cannot wind the level up past where it has any effect.
func (l levels) step(y float64, p Prediction, gamma float64) levels {
	miss := func(b float64) float64 {
		if y > b {
			return 1
		}
		return 0
	}
	l.A90 = min(max(l.A90+gamma*(miss(p.P90)-0.1), 0.5-0.9), 1-0.9)
	l.A99 = min(max(l.A99+gamma*(miss(p.P99)-0.01), 0.5-0.99), 1-0.99)
	return l
}

// plus adds a run's own adjustment to a stream's, within step's bounds.
func (l levels) plus(d levels) levels {
	return levels{
		A90: min(max(l.A90+d.A90, 0.5-0.9), 1-0.9),
		A99: min(max(l.A99+d.A99, 0.5-0.99), 1-0.99),
	}
}

func aciKey(ch, famKey string) string { return ch + "\x00" + cmp.Or(famKey, globalKey) }

// calibrated turns a raw estimate into a Prediction whose P90 and P99 are stretched (or
// narrowed) by conformal quantiles of recent scores, at the levels 0.9 (plus
// Config.CoverageMargin) and 0.99 moved by lv. P50 is never moved: calibration is about the band, not the point forecast.
//
// The pools are tried in the order of chans, each most specific first (calibKeys), and
// the first with enough scores of its own answers; local, when given, are a run's own
// scores not yet handed to the model (see Run.Finish), matched by source and merged into
// whichever pool answers, so a run calibrates on its finished tasks at once. P99 needs
// ~100 scores for its own quantile; until then it keeps its shape relative to P90 and
// takes P90's scale.
func (m *Model) calibrated(e est, famKey string, local map[string]*calibrator, lv levels, chans ...string) Prediction {
	o90, o99 := e.bands()
	c90, have90 := m.calibScale(0.9, 0.9+m.cfg.CoverageMargin+lv.A90, false, e.calClass(), famKey, local, chans)
	c99, have99 := m.calibScale(0.99, 0.99+lv.A99, true, e.calClass(), famKey, local, chans)
	switch {
	case !have90:
		c90, c99 = 1, 1
	case !have99:
		c99 = c90
	}
	n90 := max(c90*o90, e.o50)
	n99 := max(c99*o99, n90)
	return e.predictionAt(n90, n99)
}

// calibScale finds the first pool with enough scores for the nominal level p and returns
// its scores' quantile at the adapted level.
func (m *Model) calibScale(p, level float64, at99 bool, src, famKey string, local map[string]*calibrator, chans []string) (float64, bool) {
	for _, ch := range chans {
		for i, k := range calibKeys(ch, src, famKey) {
			pool := m.calib[k].sorted(at99)
			if _, ok := conformalQuantile(p, pool, nil); !ok {
				continue
			}
			lk := src
			if i >= 2 {
				lk = ""
			}
			return levelQuantile(level, pool, local[lk].sorted(at99)), true
		}
	}
	// No pool of the model's is ready: the run's own scores alone, if enough.
	l := local[src].sorted(at99)
	if _, ok := conformalQuantile(p, l, nil); !ok {
		return 0, false
	}
	return levelQuantile(level, l, nil), true
}

// minus is l's difference from b, unbounded: a run's own delta on a stream's levels.
func (l levels) minus(b levels) levels { return levels{A90: l.A90 - b.A90, A99: l.A99 - b.A99} }
