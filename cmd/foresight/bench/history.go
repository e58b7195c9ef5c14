package bench

import (
	"sort"

	"github.com/foresight-run/foresight/services/predictor/model"
)

// EWMAAlpha is the smoothing of the EWMA baseline, Dask's duration estimate.
const EWMAAlpha = 0.5

// pointEstimator is a baseline keyed estimator: last observed value (Argo) or EWMA (Dask)
// per key, with keys from specific to general.
type pointEstimator struct {
	alpha float64 // 1 for last-run
	v     map[string]float64
}

func newPointEstimator(alpha float64) *pointEstimator {
	return &pointEstimator{alpha: alpha, v: map[string]float64{}}
}

func baselineKeys(family string, t *Task) [4]string {
	return [4]string{"s:" + t.Signature, "c:" + family + "/" + t.Category, "f:" + family, "*"}
}

func (p *pointEstimator) observe(family string, t *Task, runtime float64) {
	for _, k := range baselineKeys(family, t) {
		if old, ok := p.v[k]; ok {
			p.v[k] = p.alpha*runtime + (1-p.alpha)*old
		} else {
			p.v[k] = runtime
		}
	}
}

// predict returns the most specific key's estimate, or 0 when nothing was ever observed.
func (p *pointEstimator) predict(family string, t *Task) float64 {
	for _, k := range baselineKeys(family, t) {
		if v, ok := p.v[k]; ok {
			return v
		}
	}
	return 0
}

// overlay is a run's view: the shared history plus the run's finished siblings.
func (p *pointEstimator) overlay() *pointEstimator {
	o := newPointEstimator(p.alpha)
	for k, v := range p.v {
		o.v[k] = v
	}
	return o
}

// history is everything observed before the trace being scored: the predictor model and
// the two baselines see the same observations in the same order.
type history struct {
	model    *model.Model
	lastRun  *pointEstimator
	ewma     *pointEstimator
	families map[string]int
}

// histories keeps one history per workflow family: DESIGN.md trains prediction only on
// earlier runs of the same family, so a family's first run is predicted from the model's
// priors alone, as a new workflow in production would be.
type histories map[string]*history

// of returns the family's history, empty when the family was never observed.
func (hs histories) of(family string) *history {
	h, ok := hs[family]
	if !ok {
		h = newHistory()
		hs[family] = h
	}
	return h
}

func newHistory() *history {
	return &history{
		model: model.New(model.DefaultConfig()), lastRun: newPointEstimator(1),
		ewma: newPointEstimator(EWMAAlpha), families: map[string]int{},
	}
}

func observation(tr *Trace, t *Task, runtime float64) model.Observation {
	return model.Observation{
		Signature: t.Signature, Family: tr.Family, Category: t.Category, InputBytes: t.InputBytes,
		CPU: t.CPU, RuntimeSeconds: runtime, PeakRSSBytes: t.Memory,
	}
}

func query(tr *Trace, t *Task) model.Query {
	return model.Query{
		Signature: t.Signature, Family: tr.Family, Category: t.Category, InputBytes: t.InputBytes,
		CPU: t.CPU, MemoryBytes: t.Memory,
	}
}

// observe adds a finished trace, its tasks in the order they finished in an ASAP run.
func (h *history) observe(tr *Trace, runtimes []float64) {
	for _, i := range finishOrder(tr, runtimes) {
		t := &tr.Tasks[i]
		h.model.Observe(observation(tr, t, runtimes[i]))
		h.lastRun.observe(tr.Family, t, runtimes[i])
		h.ewma.observe(tr.Family, t, runtimes[i])
	}
	h.families[tr.Family]++
}

// finishOrder sorts tasks by their finish in an ASAP schedule of runtimes.
func finishOrder(tr *Trace, runtimes []float64) []int {
	finish := make([]float64, len(tr.Tasks))
	for _, v := range tr.Order {
		st := 0.0
		for _, p := range tr.Tasks[v].Parents {
			st = max(st, finish[p])
		}
		finish[v] = st + runtimes[v]
	}
	idx := append([]int(nil), tr.Order...)
	sort.SliceStable(idx, func(a, b int) bool { return finish[idx[a]] < finish[idx[b]] })
	return idx
}
