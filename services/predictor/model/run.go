package model

import (
	"math"
	"slices"
)

// Run overlays one workflow execution on a Model: its finished tasks sharpen the
// predictions of its unfinished ones. A Run reads the Model but never writes to it; the
// shell feeds finished tasks to both. It is not safe for concurrent use.
type Run struct {
	m *Model
	// local holds the run's own observations per key (signature, category, and the whole
	// run under famKey), for tasks without history.
	local map[string]*series
	// dev holds, per signature key, the log residuals of finished siblings against the
	// history prediction made for them.
	dev map[string][]float64
	// started counts tasks dispatched per signature key (see Started).
	started map[string]int
}

// runKey pools every finished task of the run, the last resort before priors.
const runKey = "r"

// NewRun starts the sibling overlay for one workflow execution.
func (m *Model) NewRun() *Run {
	return &Run{m: m, local: map[string]*series{}, dev: map[string][]float64{}, started: map[string]int{}}
}

// Started records that a task of this run was dispatched. It is optional but makes
// sibling estimates honest: the siblings that finish first are the short ones, so k
// finished out of d started are the k smallest of d, not a fair sample of them. Without
// Started calls every finished sibling is treated as a fair sample.
func (r *Run) Started(q Query) {
	if sk, _, _ := keyChain(q.Signature, q.Family, q.Category); sk != "" {
		r.started[sk]++
	}
}

// Observe records a finished task of this run.
func (r *Run) Observe(o Observation) {
	if !(o.RuntimeSeconds > 0) || math.IsInf(o.RuntimeSeconds, 0) {
		return
	}
	base := r.m.Predict(Query{Signature: o.Signature, Family: o.Family, Category: o.Category, InputBytes: o.InputBytes, CPU: o.CPU})
	sk, ck, _ := keyChain(o.Signature, o.Family, o.Category)
	if sk != "" && base.Source == SourceHistory && base.P50 > 0 {
		r.dev[sk] = append(r.dev[sk], math.Log(o.RuntimeSeconds)-math.Log(base.P50))
	}
	p := toPoint(o)
	for _, k := range []string{sk, ck, runKey} {
		if k == "" {
			continue
		}
		s := r.local[k]
		if s == nil {
			s = &series{}
			r.local[k] = s
		}
		s.add(p, r.m.cfg.Window)
	}
}

// Predict forecasts an unfinished task of this run. With history, the run's median
// residual for the signature shifts the history prediction, shrunk by count, and the
// siblings' own spread blends into the quantiles. Residuals are not pooled across
// signatures: on the traces a run-wide shift learned from one kind of task misled the
// others (one stage slows down with a new parameter while the rest do not). Without
// history, the run's finished siblings of the signature or category are fitted, and
// failing those, when only priors remain, the run's finished tasks of any kind.
func (r *Run) Predict(q Query) Prediction {
	base := r.m.Predict(q)
	sk, ck, _ := keyChain(q.Signature, q.Family, q.Category)
	cfg := r.m.cfg
	if base.Source == SourceHistory {
		d := r.dev[sk]
		if len(d) == 0 {
			return base
		}
		sorted := slices.Clone(d)
		slices.Sort(sorted)
		k := len(sorted)
		n := max(r.started[sk], k)
		med, ok := censoredQuantile(sorted, n, 0.5)
		if !ok {
			// Fewer than half have finished: the median is above the slowest finished
			// one. That is news only if even that one ran long.
			med = max(sorted[k-1], 0)
		}
		s := float64(k)
		shift := med * s / (s + cfg.SiblingShrink)
		var res []float64
		for _, p := range []float64{0.9, 0.99} {
			if v, ok := censoredQuantile(sorted, n, p); ok {
				res = append(res, v-med)
			}
		}
		return r.shifted(base, shift, res, k, SourceSiblings, base.Samples+k)
	}
	keys := []string{sk, ck}
	if base.Source != SourceUser {
		keys = append(keys, runKey)
	}
	for _, k := range keys {
		s := r.local[k]
		if k == "" || s == nil || len(s.Obs) == 0 {
			continue
		}
		f := s.getFit(cfg)
		x, hasX := 0.0, q.InputBytes > 0
		if hasX {
			x = math.Log(float64(q.InputBytes))
		}
		mu, dx := f.at(x, hasX)
		p := r.m.fromLog(mu, f.res, cfg.PriorLogSigma, dx, SourceSiblings, f.n)
		p.MemoryP50, p.MemoryP90, p.CPU = base.MemoryP50, base.MemoryP90, base.CPU
		if f.memN > 0 {
			o90 := max(offset(f.memRes, 0.9, cfg.PriorLogSigma/2, cfg.PriorStrength), 0)
			p.MemoryP50, p.MemoryP90 = int64(math.Exp(f.memLoc)), int64(math.Exp(f.memLoc+o90))
		}
		if f.cpuN > 0 {
			p.CPU = f.cpu
		}
		return p
	}
	return base
}

// censoredQuantile estimates the p-quantile of n values of which only the k smallest
// (sorted) are known; ok is false when the quantile lies among the unknown ones.
func censoredQuantile(sorted []float64, n int, p float64) (float64, bool) {
	k := len(sorted)
	if n <= k {
		return quantile(sorted, p), true
	}
	h := p * float64(n-1)
	if int(math.Ceil(h)) >= k {
		return 0, false
	}
	lo := int(math.Floor(h))
	return sorted[lo] + (h-float64(lo))*(sorted[min(lo+1, k-1)]-sorted[lo]), true
}

// shifted moves a history prediction by a log-space shift. When the run supplies its own
// upper residuals (res: the P90 then P99 offsets it could estimate), they blend with
// history's, weight the sibling count s against SiblingSpreadWeight: a run's tasks vary
// less among themselves than across runs, but a handful of siblings cannot show the tail.
func (r *Run) shifted(base Prediction, shift float64, res []float64, s int, src string, n int) Prediction {
	l50 := math.Log(base.P50)
	o90, o99 := math.Log(base.P90)-l50, math.Log(base.P99)-l50
	w, sf := r.m.cfg.SiblingSpreadWeight, float64(s)
	if len(res) > 0 {
		o90 = (sf*max(res[0], 0) + w*o90) / (sf + w)
	}
	if len(res) > 1 {
		o99 = (sf*max(res[1], 0) + w*o99) / (sf + w)
	}
	o99 = max(o99, o90)
	mu := l50 + shift
	base.P50, base.P90, base.P99 = math.Exp(mu), math.Exp(mu+o90), math.Exp(mu+o99)
	base.Source, base.Samples = src, n
	return base
}
