package model

import (
	"cmp"
	"maps"
	"math"
	"slices"
)

// Run overlays one workflow execution on a Model: its finished tasks sharpen the
// predictions of its unfinished ones. A Run reads the Model and writes to it only in
// Finish; the shell feeds each finished task to both Run.Observe and Model.Observe. It is
// not safe for concurrent use.
type Run struct {
	m *Model
	// local holds the run's own observations per key (signature, category, and the whole
	// run under famKey), for tasks without history.
	local map[string]*series
	// dev holds, per signature key, the log residuals of finished siblings against the
	// history prediction made for them, sorted.
	dev map[string][]float64
	// memDev holds, per signature key, finished siblings' log peak-memory residuals
	// against history's median, sorted.
	memDev map[string][]float64
	// started counts tasks dispatched per signature key (see Started), and running holds
	// those not finished yet.
	started map[string]int
	running map[string][]runningTask
	// km and floors cache, per signature key at one instant, the sibling residual
	// quantiles (devQuantiles) and the running siblings' lower bound (runningFloor): a
	// revision re-predicts every unfinished sibling at the same time.
	km     map[string]kmEntry
	floors map[string]kmEntry
	// fam maps a signature key to its family key, for Finish; families holds the epoch
	// keys of every family this run observed.
	fam      map[string]string
	families map[string]bool
	// scores holds the conformity scores of this run's finished tasks against the run's
	// own predictions, by source ("" for all) in local, and in arrival order with their
	// source and family in pending, until Finish hands them to the model.
	scores  map[string]*calibrator
	pending []runScore
	// aci holds, per family key, the ACI adjustment this run's own misses and hits have
	// made on top of the model's dispatch stream (see Model.runLevels).
	aci map[string]levels
	// memo holds PredictAt's answers at one instant while neither the run (gen) nor the
	// model (memoModel) changes: a revision re-predicts every unfinished sibling at one
	// instant, and siblings alike in all a Query holds get one answer.
	memo                    map[Query]Prediction
	memoAt                  float64
	gen, memoGen, memoModel uint64
}

// runningTask is a dispatched task of the run that has not finished: when it started
// (NaN when unknown) and the log of history's median for it (NaN without history), so
// that its elapsed time bounds its residual from below.
type runningTask struct {
	start, logBase float64
}

// kmEntry is a cached answer for one key at one instant and evidence count.
type kmEntry struct {
	now      float64
	k, r     int
	count    int64
	q        [3]float64
	ok       [3]bool
	computed bool
}

// runScore is one finished task's conformity score pair, waiting for Run.Finish.
type runScore struct {
	src, fam string
	s90, s99 float64
}

// runKey pools every finished task of the run, the last resort before priors.
const runKey = "r"

// NewRun starts the sibling overlay for one workflow execution.
func (m *Model) NewRun() *Run {
	return &Run{m: m, local: map[string]*series{}, dev: map[string][]float64{}, started: map[string]int{}, running: map[string][]runningTask{}, km: map[string]kmEntry{}, floors: map[string]kmEntry{}, fam: map[string]string{}, families: map[string]bool{}, memDev: map[string][]float64{}, scores: map[string]*calibrator{}, aci: map[string]levels{}}
}

// Started records that a task of this run was dispatched. It is optional but makes
// sibling estimates honest: the siblings that finish first are the short ones, so k
// finished out of d started are the k smallest of d, not a fair sample of them. Without
// Started calls every finished sibling is treated as a fair sample.
func (r *Run) Started(q Query) { r.StartedAt(q, math.NaN()) }

// StartedAt is Started with the dispatch time, in seconds on any clock the caller also
// uses for ObserveAt and PredictAt (e.g. seconds since the workflow started). With times,
// a sibling still running is known to take at least its elapsed time, which PredictAt
// uses before any sibling has finished.
func (r *Run) StartedAt(q Query, atSeconds float64) {
	r.gen++
	if sk, _, _ := keyChain(q.Signature, q.Family, q.Category); sk != "" {
		r.started[sk]++
		lb := math.NaN()
		if !math.IsNaN(atSeconds) {
			if b := r.m.estimate(q); b.src == SourceHistory {
				if p50 := b.prediction().P50; p50 > 0 {
					lb = math.Log(p50)
				}
			}
		}
		r.running[sk] = append(r.running[sk], runningTask{start: atSeconds, logBase: lb})
	}
}

// ObserveAt is Observe with the finish time, which tells which running sibling ended.
func (r *Run) ObserveAt(o Observation, atSeconds float64) {
	r.finishRunning(o, atSeconds-o.RuntimeSeconds)
	r.observe(o, atSeconds)
}

// Observe records a finished task of this run.
func (r *Run) Observe(o Observation) {
	r.finishRunning(o, math.NaN())
	r.observe(o, math.NaN())
}

// finishRunning drops the running entry whose start is closest to startedAt; with no
// time, an entry with an unknown start, else the earliest.
func (r *Run) finishRunning(o Observation, startedAt float64) {
	r.gen++
	sk, _, _ := keyChain(o.Signature, o.Family, o.Category)
	starts := r.running[sk]
	if len(starts) == 0 {
		return
	}
	best := -1
	if math.IsNaN(startedAt) {
		best = slices.IndexFunc(starts, func(t runningTask) bool { return math.IsNaN(t.start) })
		if best < 0 {
			best = 0
			for i, t := range starts {
				if t.start < starts[best].start {
					best = i
				}
			}
		}
	} else {
		for i, t := range starts {
			if !math.IsNaN(t.start) && (best < 0 || math.Abs(t.start-startedAt) < math.Abs(starts[best].start-startedAt)) {
				best = i
			}
		}
		best = max(best, 0)
	}
	r.running[sk] = slices.Delete(starts, best, best+1)
}

func (r *Run) observe(o Observation, now float64) {
	r.gen++
	if !(o.RuntimeSeconds > 0) || math.IsInf(o.RuntimeSeconds, 0) {
		return
	}
	q := queryOf(o)
	sk, ck, fk := keyChain(o.Signature, o.Family, o.Category)
	// Score the run's own prediction for this task before its siblings learn from it:
	// dispatch-time bands are calibrated against how dispatch-time bands fared.
	base := r.m.estimate(q)
	e := r.overlay(q, base, now)
	lv := r.levels(fk)
	// The run's stream moves by γ(err - α) per task; kept as a delta on the model's.
	r.aci[fk] = lv.step(o.RuntimeSeconds, r.m.calibrated(e, fk, r.scores, lv, chanRun, chanModel), r.m.cfg.ACIStep).minus(r.m.runLevels(fk))
	if s90, s99, ok := scoreOf(e, o.RuntimeSeconds); ok {
		for _, k := range []string{e.calClass(), ""} {
			c := r.scores[k]
			if c == nil {
				c = &calibrator{}
				r.scores[k] = c
			}
			c.add(s90, s99, r.m.cfg.CalibrationWindow)
		}
		r.pending = append(r.pending, runScore{src: e.calClass(), fam: fk, s90: s90, s99: s99})
	}
	// Residuals are taken against history's median (calibration never moves P50).
	baseP50 := base.prediction().P50
	r.families[cmp.Or(fk, globalKey)] = true
	if sk != "" && base.src == SourceHistory && baseP50 > 0 {
		// Kept sorted: every prediction and every observation reads its order statistics.
		r.dev[sk] = insertSorted(r.dev[sk], math.Log(o.RuntimeSeconds)-math.Log(baseP50))
		r.fam[sk] = fk
	}
	if sk != "" && o.PeakRSSBytes > 0 && base.mem50 > 0 && r.m.hasMemory(sk) {
		r.memDev[sk] = insertSorted(r.memDev[sk], math.Log(float64(o.PeakRSSBytes))-math.Log(float64(base.mem50)))
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
// residual for the signature shifts the history prediction, shrunk by count, the
// siblings' own spread blends into the quantiles, and the between-run uncertainty
// shrinks as siblings explain it. Residuals are not pooled across signatures: on the
// traces a run-wide shift learned from one kind of task misled the others (one stage
// slows down with a new parameter while the rest do not). Without history, the run's
// finished siblings of the signature or category are fitted, and failing those, when only
// priors remain, the run's finished tasks of any kind.
func (r *Run) Predict(q Query) Prediction { return r.predict(q, math.NaN()) }

func (r *Run) predict(q Query, now float64) Prediction {
	_, _, fk := keyChain(q.Signature, q.Family, q.Category)
	return r.m.calibrated(r.overlay(q, r.m.estimate(q), now), fk, r.scores, r.levels(fk), chanRun, chanModel)
}

// levels is the run's ACI level adjustment for a family: the model's dispatch stream's
// plus what this run has learned.
func (r *Run) levels(fk string) levels { return r.m.runLevels(fk).plus(r.aci[fk]) }

// runLevels is the dispatch stream's ACI adjustment for a family; until a run has
// finished there, dispatch borrows the submission stream's, as it borrows its scores.
func (m *Model) runLevels(fk string) levels {
	if l, ok := m.aci[aciKey(chanRun, fk)]; ok {
		return l
	}
	return m.aci[aciKey(chanModel, fk)]
}

// overlay applies the run's siblings to the model's estimate e for q at now (NaN when
// the time is unknown; see devQuantiles).
func (r *Run) overlay(q Query, e est, now float64) est {
	sk, ck, _ := keyChain(q.Signature, q.Family, q.Category)
	cfg := r.m.cfg
	if d := r.memDev[sk]; len(d) > 0 {
		// Peak memory is driven by the data set far more than by the machine, so a run's
		// siblings are the best evidence there is: shift by their median residual and
		// cover at least their largest.
		s := float64(len(d))
		shift := quantile(d, 0.5) * s / (s + cfg.SiblingShrink) // d is kept sorted
		top := d[len(d)-1]
		m50 := float64(e.mem50) * math.Exp(shift)
		m90 := max(float64(e.mem90)*math.Exp(shift), float64(e.mem50)*math.Exp(top))
		e.mem50, e.mem90 = bytesOf(m50), bytesOf(max(m90, m50))
	}
	if e.src == SourceHistory {
		d := r.dev[sk]
		if len(d) == 0 {
			return e
		}
		k := len(d)
		qs, oks := r.devQuantiles(sk, now)
		med := qs[0]
		if !oks[0] {
			// Fewer than half have finished: the median is above the slowest finished
			// one. That is news only if even that one ran long.
			med = max(d[k-1], 0)
		}
		s := float64(k)
		e.mu += med * s / (s + cfg.SiblingShrink)
		e.tau *= math.Sqrt(cfg.SiblingShrink / (s + cfg.SiblingShrink))
		// A run's tasks vary less among themselves than across runs, but a handful of
		// siblings cannot show the tail: blend their spread with history's.
		w := cfg.SiblingSpreadWeight
		if oks[1] {
			e.o90 = (s*max(qs[1]-med, 0) + w*e.o90) / (s + w)
		}
		if oks[2] {
			e.o99 = (s*max(qs[2]-med, 0) + w*e.o99) / (s + w)
		}
		e.src, e.n = SourceSiblings, e.n+k
		return e
	}
	keys := []string{sk, ck}
	if e.src != SourceUser {
		keys = append(keys, runKey)
	}
	for _, k := range keys {
		s := r.local[k]
		if k == "" || s == nil || len(s.Obs) == 0 {
			continue
		}
		// A run's siblings are contemporaries, not a history that ages: weigh them equally.
		f := s.getFit(cfg, -1)
		// Input size explains runtime within a kind of task, not across the kinds pooled
		// under runKey: there, a small input says nothing about a short runtime.
		x, hasX := 0.0, q.InputBytes > 0 && k != runKey
		if hasX {
			x = math.Log(float64(q.InputBytes))
		}
		mu, dx := f.at(x, hasX)
		se := r.m.fromLog(mu, f.res, cfg.PriorLogSigma, dx, SourceSiblings, f.n)
		se.cal = calRunFit // also for run-prior, below
		if k == runKey {
			// Other kinds of task say little about this one's spread, and nothing that
			// siblings' calibration or drift detection should treat as evidence: on bwa a
			// 1000-wide stage was predicted from an index build and a split, and the
			// siblings' conformal scale, applied to this cold band, put P90 at 7600 s.
			se.o90 = max(se.o90, zScore(0.9)*cfg.ColdLogSigma)
			se.o99 = max(se.o99, zScore(0.99)*cfg.ColdLogSigma)
			se.src = SourceRunPrior
			// A handful of other kinds of task are weak evidence about this one: shrink
			// their level toward the prior's, the prior counting as SiblingShrink tasks.
			// Unshrunk, one 0.05 s split on blast put its forty 10 s blastall tasks at a
			// 0.4 s P90, and the re-plan cancelled the eight VMs booting for them: the
			// run took 2.0× the warm-pool autoscaler's makespan. Shrunk, over foresight
			// bench seeds 1-6, makespan against it went from 0.94-1.06× to 0.93-1.01×
			// for cost from 0.54-0.57× to 0.53-0.62×, and the mean objective from 0.585
			// to 0.574; with the prior counting as PriorStrength (3) tasks, makespan fell
			// further but cost rose to 0.56-0.64×.
			n := float64(f.n)
			se.mu = (n*se.mu + cfg.SiblingShrink*e.mu) / (n + cfg.SiblingShrink)
		}
		se.mem50, se.mem90, se.cpu = e.mem50, e.mem90, e.cpu
		if f.memN > 0 {
			o90 := max(offset(f.memRes, 0.9, cfg.PriorLogSigma/2, cfg.PriorStrength), 0)
			se.mem50, se.mem90 = bytesOf(math.Exp(f.memLoc)), bytesOf(math.Exp(f.memLoc+o90))
		}
		if f.cpuN > 0 {
			se.cpu = f.cpu
		}
		return se
	}
	return e
}

// PredictAt is Predict at nowSeconds, using siblings still running as evidence: each
// takes at least its elapsed time, so the median of the started siblings is at least the
// median of their runtimes (finished) and elapsed times (running). When that bound
// exceeds the prediction, the prediction moves up to it. The bound needs three
// started siblings, so one straggler cannot drag every prediction.
func (r *Run) PredictAt(q Query, nowSeconds float64) Prediction {
	if math.IsNaN(nowSeconds) {
		return r.predictAt(q, nowSeconds)
	}
	if r.memo == nil || r.memoAt != nowSeconds || r.memoGen != r.gen || r.memoModel != r.m.gen {
		r.memo, r.memoAt, r.memoGen, r.memoModel = map[Query]Prediction{}, nowSeconds, r.gen, r.m.gen
	}
	if p, ok := r.memo[q]; ok {
		return p
	}
	p := r.predictAt(q, nowSeconds)
	r.memo[q] = p
	return p
}

func (r *Run) predictAt(q Query, nowSeconds float64) Prediction {
	p := r.predict(q, nowSeconds)
	sk, _, _ := keyChain(q.Signature, q.Family, q.Category)
	floor, ok := r.runningFloor(sk, nowSeconds)
	if !ok || floor <= p.P50 || p.P50 <= 0 {
		return p
	}
	f := floor / p.P50
	p.P50, p.P90, p.P99 = p.P50*f, min(p.P90*f, maxSeconds), min(p.P99*f, maxSeconds)
	p.Source = SourceSiblings
	return p
}

// runningFloor is PredictAt's lower bound for the key's median runtime at now, cached
// like devQuantiles: a revision asks it for every unfinished sibling at one instant.
func (r *Run) runningFloor(sk string, now float64) (float64, bool) {
	starts := r.running[sk]
	if len(starts) == 0 || math.IsNaN(now) {
		return 0, false
	}
	var done []point
	if l := r.local[sk]; l != nil {
		done = l.Obs
	}
	if c := r.floors[sk]; c.computed && c.now == now && c.k == len(done) && c.r == len(starts) && c.count == r.localCount(sk) {
		return c.q[0], c.ok[0]
	}
	lb := make([]float64, 0, len(done)+len(starts))
	maxDone := 0.0
	for _, o := range done {
		lb = append(lb, o.Rt)
		maxDone = max(maxDone, o.Rt)
	}
	known := 0
	for _, t := range starts {
		switch s := t.start; {
		case !math.IsNaN(s) && now > s:
			lb = append(lb, now-s)
			known++
		default:
			// Without a start time, a sibling still running has at least outlasted the
			// ones that finished if it started with them; assume no more.
			lb = append(lb, maxDone)
		}
	}
	c := kmEntry{now: now, k: len(done), r: len(starts), count: r.localCount(sk), computed: true}
	if known > 0 && len(lb) >= minRunningEvidence {
		c.q[0], c.ok[0] = median(lb), true
	}
	r.floors[sk] = c
	return c.q[0], c.ok[0]
}

// localCount is how many of the key's siblings the run has observed, the window's
// length not being enough to tell a new observation from an old one once it is full.
func (r *Run) localCount(sk string) int64 {
	if l := r.local[sk]; l != nil {
		return l.Count
	}
	return 0
}

// minRunningEvidence is how many started siblings PredictAt needs before their elapsed
// times may raise a prediction.
const minRunningEvidence = 3

// Finish tells the model how far this run sat from history: for each signature with
// history, the median residual of its tasks. The model pools these per family to size the
// between-run spread of future predictions. Call it once, when the run ends; it is the
// only Run method that writes to the Model.
func (r *Run) Finish() {
	r.gen++
	r.m.gen++
	keys := make([]string, 0, len(r.dev))
	for k := range r.dev {
		keys = append(keys, k)
	}
	slices.Sort(keys) // map order must not leak into the persisted window
	for _, k := range keys {
		if d := r.dev[k]; len(d) > 0 {
			r.m.recordRunDeviation(r.fam[k], median(d))
		}
	}
	clear(r.dev)
	// The run is over: everything observed before it is now one run older.
	for f := range r.families {
		r.m.epoch[f]++
	}
	clear(r.families)
	// The run's calibration scores join the model's dispatch-time pools, in the order
	// its tasks finished.
	for _, s := range r.pending {
		r.m.addScore(chanRun, s.src, s.fam, s.s90, s.s99)
	}
	r.pending = nil
	clear(r.scores)
	for _, fk := range slices.Sorted(maps.Keys(r.aci)) {
		r.m.aci[aciKey(chanRun, fk)] = r.levels(fk)
	}
	clear(r.aci)
}

// devQuantiles returns the 0.5, 0.9 and 0.99 quantiles of the residuals of the key's
// siblings, counting those still running; ok is false for a quantile that lies beyond
// every finished sibling. Without a time (now NaN) or start times, the running siblings
// are taken to have started with the finished ones, so k finished out of n started are
// the k shortest (censoredQuantile). With them, each running sibling is known only to
// outlast its elapsed time, a right-censored residual, and the quantiles are read off the
// Kaplan–Meier estimate (Kaplan & Meier, JASA 1958): a sibling dispatched a moment ago
// says nothing yet, where the first assumption would read a finished wave of short tasks
// as the shortest of a much larger, slower one.
func (r *Run) devQuantiles(sk string, now float64) ([3]float64, [3]bool) {
	ps := [3]float64{0.5, 0.9, 0.99}
	d, run := r.dev[sk], r.running[sk]
	c := r.km[sk]
	if c.computed && c.k == len(d) && c.r == len(run) && (c.now == now || math.IsNaN(c.now) && math.IsNaN(now)) {
		return c.q, c.ok
	}
	c = kmEntry{now: now, k: len(d), r: len(run), computed: true}
	if math.IsNaN(now) {
		n := max(r.started[sk], len(d))
		for i, p := range ps {
			c.q[i], c.ok[i] = censoredQuantile(d, n, p)
		}
	} else {
		cens := make([]float64, 0, len(run))
		for _, t := range run {
			switch {
			case math.IsNaN(t.start) || math.IsNaN(t.logBase):
				cens = append(cens, math.Inf(1)) // only known to outlast the finished
			case now > t.start:
				cens = append(cens, math.Log(now-t.start)-t.logBase)
			}
		}
		slices.Sort(cens)
		for i, p := range ps {
			c.q[i], c.ok[i] = kmQuantile(d, cens, p)
		}
	}
	r.km[sk] = c
	return c.q, c.ok
}

// kmQuantile is the p-quantile of the Kaplan–Meier estimate from finished values
// (events) and right-censored ones, both sorted: the least event at which the estimated
// survival falls to 1-p or below. A censored value equal to an event counts as at risk
// there. ok is false when survival never falls that far.
func kmQuantile(events, censored []float64, p float64) (float64, bool) {
	surv := 1.0
	j := 0 // censored values below the current event have left the risk set
	for i := 0; i < len(events); {
		v := events[i]
		d := 1
		for i+d < len(events) && events[i+d] == v {
			d++
		}
		for j < len(censored) && censored[j] < v {
			j++
		}
		atRisk := len(events) - i + len(censored) - j
		surv *= 1 - float64(d)/float64(atRisk)
		if surv <= 1-p+1e-12 {
			return v, true
		}
		i += d
	}
	return 0, false
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
