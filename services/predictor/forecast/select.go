package forecast

import (
	"fmt"
	"math"
)

// SelectByBacktest picks the candidate with the lowest mean absolute error over a
// rolling-origin backtest (Tashman 2000): for each of folds origins, spaced horizon apart
// and ending at the series' end, fit on everything before the origin and score the next
// horizon steps. The winner is refitted on the whole series. errs maps each candidate's
// Name to its backtest MAE (+Inf when it could not be fitted). Ties go to the earlier
// candidate, so callers list the simpler model first.
func SelectByBacktest(s Series, candidates []Forecaster, horizon, folds int) (best Forecaster, errs map[string]float64, err error) {
	if len(candidates) == 0 {
		return nil, nil, fmt.Errorf("select: no candidates")
	}
	horizon, folds = max(horizon, 1), max(folds, 1)
	n := len(s.Values)
	if n-horizon*folds < 4 {
		return nil, nil, fmt.Errorf("select: %d points for %d folds of %d: %w", n, folds, horizon, ErrShortSeries)
	}
	errs = make(map[string]float64, len(candidates))
	bestErr := math.Inf(1)
	for _, c := range candidates {
		var sum float64
		var cnt int
		for k := folds; k >= 1; k-- {
			origin := n - k*horizon
			train := Series{Start: s.Start, Step: s.Step, Values: s.Values[:origin]}
			if c.Fit(train) != nil {
				sum, cnt = math.Inf(1), 1
				break
			}
			mean, _, _ := c.Forecast(horizon)
			for i, v := range mean {
				sum += math.Abs(v - s.Values[origin+i])
				cnt++
			}
		}
		e := math.Inf(1)
		if cnt > 0 {
			e = sum / float64(cnt)
		}
		errs[c.Name()] = e
		if e < bestErr {
			best, bestErr = c, e
		}
	}
	if best == nil {
		return nil, errs, fmt.Errorf("select: no candidate could be fitted: %w", ErrShortSeries)
	}
	if err := best.Fit(s); err != nil {
		return nil, errs, fmt.Errorf("select: refit %s: %w", best.Name(), err)
	}
	return best, errs, nil
}

// TargetRule says how a demand forecast becomes pool targets.
type TargetRule struct {
	// CoresPerVM converts cores to VMs.
	CoresPerVM float64
	// HotSteps is how many forecast steps ahead a warm VM cannot be started in time: the
	// expected demand over those steps must already be running.
	HotSteps int
	// WarmSteps is how far ahead a cold launch cannot be relied on: the upper band over
	// those steps is kept warm (stopped, storage cost only).
	WarmSteps int
}

// PoolTargets turns a forecast of concurrent core demand (mean and upper band per step)
// into hot and warm VM targets ahead of time. The rule:
//
//	hot  = ceil(max(mean[0:HotSteps]) / CoresPerVM)
//	warm = max(0, ceil(max(hi[0:WarmSteps]) / CoresPerVM) - hot)
//
// Hot VMs cost full price, so they cover only the expected demand that arrives sooner
// than a warm VM can start; warm VMs are cheap, so they cover the 80% upper band over the
// horizon a cold launch cannot meet. Demand beyond that is left to cold launches.
func PoolTargets(mean, hi []float64, r TargetRule) (hot, warm int) {
	per := r.CoresPerVM
	if !(per > 0) {
		per = 1
	}
	peak := func(xs []float64, steps int) float64 {
		steps = min(max(steps, 1), len(xs))
		m := 0.0
		for _, v := range xs[:steps] {
			m = max(m, v)
		}
		return m
	}
	if len(mean) > 0 {
		hot = int(math.Ceil(peak(mean, r.HotSteps)/per - 1e-9))
	}
	if len(hi) > 0 {
		warm = max(0, int(math.Ceil(peak(hi, r.WarmSteps)/per-1e-9))-hot)
	}
	return hot, warm
}
