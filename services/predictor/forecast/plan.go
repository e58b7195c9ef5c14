package forecast

import (
	"fmt"
	"time"
)

// DefaultCandidates returns the models worth trying on a load series sampled every step:
// daily (and, with enough data, weekly) seasonality is what cluster load shows (Google and
// Alibaba cluster traces; Taylor & Letham 2018 for business series). The seasonal-naive
// baseline is listed first so a model must beat it to be chosen. n is the series length.
func DefaultCandidates(step time.Duration, n int) []Forecaster {
	day := max(int(24*time.Hour/max(step, time.Second)), 1)
	week := 7 * day
	season := day
	if n < 2*day+4 {
		// Less than two days: no seasonality can be fitted, only level and trend.
		season = 1
	}
	c := []Forecaster{NewSeasonalNaive(season), NewHoltWinters(season)}
	periods := []float64{float64(day)}
	if n >= 2*week {
		periods = append(periods, float64(week))
	}
	if season > 1 {
		c = append(c, NewProphetLike(periods, 3, 4))
	}
	return c
}

// PlanPool forecasts a series of concurrent core demand horizon steps ahead with the
// model chosen by rolling-origin backtest (three folds) among DefaultCandidates, and turns
// the forecast into hot and warm targets with PoolTargets. model names the chosen model.
func PlanPool(s Series, horizon int, rule TargetRule) (hot, warm int, model string, err error) {
	horizon = max(horizon, 1)
	best, _, err := SelectByBacktest(s, DefaultCandidates(s.Step, len(s.Values)), horizon, 3)
	if err != nil {
		return 0, 0, "", fmt.Errorf("plan pool: %w", err)
	}
	mean, _, hi := best.Forecast(horizon)
	hot, warm = PoolTargets(mean, hi, rule)
	return hot, warm, best.Name(), nil
}
