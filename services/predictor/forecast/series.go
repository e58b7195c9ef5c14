package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrShortSeries is returned when a series is too short for the model or backtest asked.
var ErrShortSeries = errors.New("forecast: series too short")

// Series is a regularly sampled time series, e.g. arrivals or busy cores per minute.
type Series struct {
	Start  time.Time
	Step   time.Duration
	Values []float64
}

// Forecaster is a time-series model. Fit replaces any earlier fit; Forecast returns h
// future means with an 80% interval (lo, hi), each of length h. Forecast before a
// successful Fit returns nil slices.
type Forecaster interface {
	Name() string
	Fit(s Series) error
	Forecast(h int) (mean, lo, hi []float64)
}

// z80 is the standard normal quantile for an 80% central interval (P10–P90).
const z80 = 1.2816

// seasonalNaive forecasts each step as the value one period earlier: the baseline
// (fpp3 §5.2) any seasonal model must beat.
type seasonalNaive struct {
	period int
	vals   []float64
	sigma  float64
}

var _ Forecaster = (*seasonalNaive)(nil)

// NewSeasonalNaive returns the seasonal-naive baseline; period 1 is the plain naive
// forecast.
func NewSeasonalNaive(period int) Forecaster { return &seasonalNaive{period: max(period, 1)} }

// Name implements Forecaster.
func (f *seasonalNaive) Name() string { return fmt.Sprintf("seasonal-naive(%d)", f.period) }

// Fit implements Forecaster.
func (f *seasonalNaive) Fit(s Series) error {
	if len(s.Values) < f.period+1 {
		return fmt.Errorf("seasonal naive needs %d points, got %d: %w", f.period+1, len(s.Values), ErrShortSeries)
	}
	f.vals = append([]float64(nil), s.Values...)
	var ss float64
	for i := f.period; i < len(f.vals); i++ {
		d := f.vals[i] - f.vals[i-f.period]
		ss += d * d
	}
	f.sigma = math.Sqrt(ss / float64(len(f.vals)-f.period))
	return nil
}

// Forecast implements Forecaster.
func (f *seasonalNaive) Forecast(h int) (mean, lo, hi []float64) {
	if f.vals == nil || h <= 0 {
		return nil, nil, nil
	}
	n := len(f.vals)
	mean, lo, hi = make([]float64, h), make([]float64, h), make([]float64, h)
	for k := range h {
		mean[k] = f.vals[n-f.period+k%f.period]
		w := z80 * f.sigma * math.Sqrt(float64(k/f.period+1))
		lo[k], hi[k] = mean[k]-w, mean[k]+w
	}
	return mean, lo, hi
}
