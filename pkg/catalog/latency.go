package catalog

import (
	"fmt"
	"math"
)

// z90 is the standard normal 90th percentile, used to fit a lognormal to a mean and a P90.
const z90 = 1.2815515655446004

// maxP90OverMean is the largest P90/mean ratio a lognormal can have: beyond it no sigma
// matches both numbers (ln(p90/mean) = z·σ − σ²/2 peaks at z²/2).
var maxP90OverMean = math.Exp(z90 * z90 / 2)

// Latency is the distribution of how long a tier takes to hand over a running VM, given as
// the two numbers sources publish: a mean and a 90th percentile, in seconds. Zero means
// immediate (the hot tier).
type Latency struct {
	MeanSeconds float64 `yaml:"mean_seconds"`
	P90Seconds  float64 `yaml:"p90_seconds"`
}

// validate checks that a lognormal with this mean and P90 exists.
func (l Latency) validate() error {
	switch {
	case math.IsNaN(l.MeanSeconds) || math.IsInf(l.MeanSeconds, 0) || l.MeanSeconds < 0:
		return fmt.Errorf("mean_seconds: must be a finite number >= 0, got %v", l.MeanSeconds)
	case math.IsNaN(l.P90Seconds) || math.IsInf(l.P90Seconds, 0) || l.P90Seconds < l.MeanSeconds:
		return fmt.Errorf("p90_seconds: must be finite and >= mean_seconds (%v), got %v", l.MeanSeconds, l.P90Seconds)
	case l.MeanSeconds == 0 && l.P90Seconds != 0:
		return fmt.Errorf("p90_seconds: must be 0 when mean_seconds is 0, got %v", l.P90Seconds)
	case l.MeanSeconds > 0 && l.P90Seconds/l.MeanSeconds > maxP90OverMean:
		return fmt.Errorf("p90_seconds: at most %.3f× mean_seconds for a lognormal fit, got %.3f×",
			maxP90OverMean, l.P90Seconds/l.MeanSeconds)
	}
	return nil
}

// params returns the lognormal's mu and sigma. Of the two roots of
// ln(p90/mean) = z·σ − σ²/2 it takes the smaller σ: the lighter tail, which is the fit whose
// P90 sits above its median as observed start-up times do.
func (l Latency) params() (mu, sigma float64) {
	if l.MeanSeconds <= 0 {
		return math.Inf(-1), 0
	}
	d := math.Log(l.P90Seconds / l.MeanSeconds)
	disc := z90*z90 - 2*d
	if disc < 0 {
		disc = 0 // validate rejects this; clamp so an unvalidated value still samples.
	}
	sigma = z90 - math.Sqrt(disc)
	mu = math.Log(l.MeanSeconds) - sigma*sigma/2
	return mu, sigma
}

// Median returns the distribution's median in seconds.
func (l Latency) Median() float64 {
	if l.MeanSeconds <= 0 {
		return 0
	}
	mu, _ := l.params()
	return math.Exp(mu)
}

// Quantile returns the q-quantile in seconds, for q in (0,1); q is clamped into that range.
func (l Latency) Quantile(q float64) float64 {
	if l.MeanSeconds <= 0 {
		return 0
	}
	const eps = 1e-9
	q = math.Min(math.Max(q, eps), 1-eps)
	mu, sigma := l.params()
	z := math.Sqrt2 * math.Erfinv(2*q-1)
	return math.Exp(mu + sigma*z)
}

// Sample draws a latency in seconds from the lognormal fitted to MeanSeconds and P90Seconds,
// by inverse transform of a uniform u in (0,1): the same u always gives the same latency, so
// a seeded RNG makes a simulation reproducible.
func (l Latency) Sample(u float64) float64 { return l.Quantile(u) }
