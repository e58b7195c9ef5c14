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
	// local holds the run's own observations per key, for signatures without history.
	local map[string]*series
	// dev holds, per signature key, the log residuals of finished siblings against the
	// history prediction made for them; all pools every signature's.
	dev map[string][]float64
	all []float64
}

// NewRun starts the sibling overlay for one workflow execution.
func (m *Model) NewRun() *Run {
	return &Run{m: m, local: map[string]*series{}, dev: map[string][]float64{}}
}

// Observe records a finished task of this run.
func (r *Run) Observe(o Observation) {
	if !(o.RuntimeSeconds > 0) || math.IsInf(o.RuntimeSeconds, 0) {
		return
	}
	base := r.m.Predict(Query{Signature: o.Signature, Family: o.Family, Category: o.Category, InputBytes: o.InputBytes, CPU: o.CPU})
	sk, ck, _ := keyChain(o.Signature, o.Family, o.Category)
	if base.Source == SourceHistory && base.P50 > 0 {
		d := math.Log(o.RuntimeSeconds) - math.Log(base.P50)
		if sk != "" {
			r.dev[sk] = append(r.dev[sk], d)
		}
		r.all = append(r.all, d)
	}
	p := toPoint(o)
	for _, k := range []string{sk, ck} {
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
// residual for the signature (or, failing that, across the run) shifts the history
// prediction, shrunk by count, and the siblings' own spread blends into the quantiles.
// Without history, the run's finished siblings of the signature or category are fitted
// directly.
func (r *Run) Predict(q Query) Prediction {
	base := r.m.Predict(q)
	sk, ck, _ := keyChain(q.Signature, q.Family, q.Category)
	cfg := r.m.cfg
	if base.Source == SourceHistory {
		if d := r.dev[sk]; len(d) > 0 {
			s := float64(len(d))
			sorted := slices.Clone(d)
			slices.Sort(sorted)
			med := quantile(sorted, 0.5)
			shift := med * s / (s + cfg.SiblingShrink)
			res := make([]float64, len(sorted))
			for i, v := range sorted {
				res[i] = v - med
			}
			return r.shifted(base, shift, res, SourceSiblings, base.Samples+len(d))
		}
		if n := len(r.all); n > 0 {
			shift := median(r.all) * float64(n) / (float64(n) + cfg.RunDriftShrink)
			return r.shifted(base, shift, nil, base.Source, base.Samples)
		}
		return base
	}
	for _, k := range []string{sk, ck} {
		s := r.local[k]
		if k == "" || s == nil || len(s.Obs) == 0 {
			continue
		}
		f := s.getFit(cfg)
		x, hasX := 0.0, q.InputBytes > 0
		if hasX {
			x = math.Log(float64(q.InputBytes))
		}
		p := r.m.fromLog(f.mu(x, hasX), f.res, cfg.PriorLogSigma, SourceSiblings, f.n)
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

// shifted moves a history prediction by a log-space shift. When the run supplies its own
// residuals, the upper quantile offsets become a blend of history's (weight
// SiblingSpreadWeight) and the siblings' (weight = their count): a run's tasks vary less
// among themselves than across runs, but a handful of siblings cannot show the tail.
func (r *Run) shifted(base Prediction, shift float64, res []float64, src string, n int) Prediction {
	l50 := math.Log(base.P50)
	o90, o99 := math.Log(base.P90)-l50, math.Log(base.P99)-l50
	if len(res) > 0 {
		s := float64(len(res))
		w := r.m.cfg.SiblingSpreadWeight
		o90 = (s*max(quantile(res, 0.9), 0) + w*o90) / (s + w)
		o99 = max((s*max(quantile(res, 0.99), 0)+w*o99)/(s+w), o90)
	}
	mu := l50 + shift
	base.P50, base.P90, base.P99 = math.Exp(mu), math.Exp(mu+o90), math.Exp(mu+o99)
	base.Source, base.Samples = src, n
	return base
}
