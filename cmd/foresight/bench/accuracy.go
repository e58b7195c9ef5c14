package bench

import (
	"math"
	"sort"

	"github.com/foresight-run/foresight/services/predictor/model"
)

// taskForecast is one method's runtime forecast for one task.
type taskForecast struct {
	p50, p90 float64
}

// scoreForecasts turns per-task forecasts into a PredictionRow.
func scoreForecasts(tr *Trace, method string, fc []taskForecast, withHistory bool) PredictionRow {
	var apes []float64
	covered, counted := 0, 0
	p50 := make([]float64, len(tr.Tasks))
	for i, t := range tr.Tasks {
		p50[i] = max(fc[i].p50, 0)
		if t.Runtime <= 0 {
			continue
		}
		counted++
		apes = append(apes, math.Abs(fc[i].p50-t.Runtime)/t.Runtime)
		if t.Runtime <= fc[i].p90 {
			covered++
		}
	}
	row := PredictionRow{Trace: tr.Name, Method: method, WithHistory: withHistory}
	if counted > 0 {
		row.MedianAPE = median(apes)
		row.P90Coverage = float64(covered) / float64(counted)
	}
	if cp := criticalPath(tr, trueRuntimes(tr)); cp > 0 {
		row.MakespanForecastError = math.Abs(criticalPath(tr, p50)-cp) / cp
	}
	return row
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// scorePredictions measures every method on tr at submission and at dispatch. start and
// finish are when each task was dispatched and finished in the execution being scored;
// at a dispatch, the siblings finished at or before that instant have been observed.
func scorePredictions(h *history, tr *Trace, start, finish []float64) []PredictionRow {
	n := len(tr.Tasks)
	withHistory := h.families[tr.Family] > 0
	submit := map[string][]taskForecast{}
	for _, m := range Methods {
		submit[m] = make([]taskForecast, n)
	}
	for i := range tr.Tasks {
		t := &tr.Tasks[i]
		p := h.model.Predict(query(tr, t))
		submit[MethodForesight][i] = taskForecast{p.P50, p.P90}
		lr := h.lastRun.predict(tr.Family, t)
		submit[MethodLastRun][i] = taskForecast{lr, lr}
		ew := h.ewma.predict(tr.Family, t)
		submit[MethodEWMA][i] = taskForecast{ew, ew}
	}

	dispatch := map[string][]taskForecast{}
	for _, m := range Methods {
		dispatch[m] = make([]taskForecast, n)
	}
	run := h.model.NewRun()
	lastRun, ewma := h.lastRun.overlay(), h.ewma.overlay()
	type ev struct {
		t      float64
		finish bool
		task   int
	}
	evs := make([]ev, 0, 2*n)
	for i := range tr.Tasks {
		evs = append(evs, ev{start[i], false, i}, ev{finish[i], true, i})
	}
	sort.SliceStable(evs, func(a, b int) bool {
		if evs[a].t != evs[b].t {
			return evs[a].t < evs[b].t
		}
		return evs[a].finish && !evs[b].finish // what finished by now is known
	})
	for _, e := range evs {
		t := &tr.Tasks[e.task]
		if e.finish {
			run.ObserveAt(observation(tr, t, t.Runtime), e.t)
			lastRun.observe(tr.Family, t, t.Runtime)
			ewma.observe(tr.Family, t, t.Runtime)
			continue
		}
		q := query(tr, t)
		var p model.Prediction = run.PredictAt(q, e.t)
		// As the live predictor hears task-dispatched: the overlay counts what started, so
		// siblings that finish first are read as the short ones they are.
		run.StartedAt(q, e.t)
		dispatch[MethodForesight][e.task] = taskForecast{p.P50, p.P90}
		lr := lastRun.predict(tr.Family, t)
		dispatch[MethodLastRun][e.task] = taskForecast{lr, lr}
		ew := ewma.predict(tr.Family, t)
		dispatch[MethodEWMA][e.task] = taskForecast{ew, ew}
	}
	// As the live predictor does at workflow-completed: how far this run sat from history
	// (and its calibration scores) reach the model for the family's next runs.
	run.Finish()
	var rows []PredictionRow
	for _, m := range Methods {
		rows = append(rows, scoreForecasts(tr, m, dispatch[m], withHistory))
	}
	for _, m := range Methods {
		rows = append(rows, scoreForecasts(tr, m+SubmitSuffix, submit[m], withHistory))
	}
	return append(rows, scoreForecasts(tr, MethodHindsight, hindsightStage(tr), withHistory))
}

// hindsightStage predicts each task by its signature's median and 90th percentile
// runtime in tr itself (see MethodHindsight).
func hindsightStage(tr *Trace) []taskForecast {
	by := map[string][]float64{}
	for _, t := range tr.Tasks {
		if t.Runtime > 0 {
			by[t.Signature] = append(by[t.Signature], t.Runtime)
		}
	}
	for _, rts := range by {
		sort.Float64s(rts)
	}
	out := make([]taskForecast, len(tr.Tasks))
	for i, t := range tr.Tasks {
		if rts := by[t.Signature]; len(rts) > 0 {
			out[i] = taskForecast{median(rts), rts[int(math.Ceil(0.9*float64(len(rts))))-1]}
		}
	}
	return out
}

func summarizeMethods(rows []PredictionRow) []MethodSummary {
	by := map[string][]PredictionRow{}
	var order []string
	for _, r := range rows {
		if _, ok := by[r.Method]; !ok {
			order = append(order, r.Method)
		}
		by[r.Method] = append(by[r.Method], r)
	}
	fore := map[string]map[string]float64{}
	for _, r := range rows {
		if fore[r.Method] == nil {
			fore[r.Method] = map[string]float64{}
		}
		fore[r.Method][r.Trace] = r.MedianAPE
	}
	var out []MethodSummary
	for _, m := range order {
		var ape, cov, mfe, apeH, mfeH, ratio []float64
		ref := MethodForesight
		if len(m) > len(SubmitSuffix) && m[len(m)-len(SubmitSuffix):] == SubmitSuffix {
			ref += SubmitSuffix
		}
		for _, r := range by[m] {
			ape = append(ape, r.MedianAPE)
			cov = append(cov, r.P90Coverage)
			mfe = append(mfe, r.MakespanForecastError)
			if r.WithHistory {
				apeH = append(apeH, r.MedianAPE)
				mfeH = append(mfeH, r.MakespanForecastError)
			}
			if f, ok := fore[ref][r.Trace]; ok {
				ratio = append(ratio, max(f, 1e-9)/max(r.MedianAPE, 1e-9))
			}
		}
		out = append(out, MethodSummary{
			Method: m, MedianAPE: geomean(ape), P90Coverage: mean(cov), MakespanForecastError: geomean(mfe),
			MedianAPEWithHistory: nanIfEmpty(apeH), MakespanErrorWithHistory: nanIfEmpty(mfeH), TracesWithHistory: len(apeH),
			ForesightAPERatio: nanIfEmpty(ratio),
		})
	}
	return out
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
