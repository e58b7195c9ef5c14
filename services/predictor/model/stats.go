package model

import (
	"math"
	"slices"
)

// quantile returns the p-quantile of sorted xs with linear interpolation between order
// statistics (Hyndman & Fan type 7, the default of R and numpy). xs must be sorted and
// non-empty.
func quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	h := p * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// median returns the median of xs without modifying it.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantile(s, 0.5)
}

// weightedMedian returns the weighted median of xs: the smallest value at which the
// cumulative weight reaches half, averaged with the next when it lands exactly on half.
// With equal weights it is the ordinary median.
func weightedMedian(xs, ws []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	idx := make([]int, len(xs))
	var total float64
	for i := range idx {
		idx[i] = i
		total += ws[i]
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case xs[a] < xs[b]:
			return -1
		case xs[a] > xs[b]:
			return 1
		}
		return 0
	})
	half := total / 2
	var cum float64
	for k, i := range idx {
		cum += ws[i]
		if math.Abs(cum-half) <= 1e-12*total && k+1 < len(idx) {
			return (xs[i] + xs[idx[k+1]]) / 2
		}
		if cum > half {
			return xs[i]
		}
	}
	return xs[idx[len(idx)-1]]
}

// theilSen returns the Theil–Sen slope of y on x: the median of pairwise slopes. Up to
// allPairsMax points it uses every pair; above that it uses Theil's original split pairing
// (sort by x, pair i with i+n/2), which keeps the cost O(n log n) for large windows while
// pairing points far apart in x, where slopes are least noisy.
func theilSen(x, y []float64) float64 {
	const allPairsMax = 48
	n := len(x)
	var slopes []float64
	if n <= allPairsMax {
		slopes = make([]float64, 0, n*(n-1)/2)
		for i := range n {
			for j := i + 1; j < n; j++ {
				if dx := x[j] - x[i]; math.Abs(dx) > 1e-9 {
					slopes = append(slopes, (y[j]-y[i])/dx)
				}
			}
		}
	} else {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case x[a] < x[b]:
				return -1
			case x[a] > x[b]:
				return 1
			}
			return 0
		})
		half := n / 2
		slopes = make([]float64, 0, half)
		for i := range half {
			a, b := idx[i], idx[i+half]
			if dx := x[b] - x[a]; math.Abs(dx) > 1e-9 {
				slopes = append(slopes, (y[b]-y[a])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	return median(slopes)
}

// zScore returns the standard normal quantile for the levels the model reports; it is the
// prior's shape only, the data's own quantiles replace it as samples accumulate.
func zScore(p float64) float64 {
	switch {
	case p >= 0.99:
		return 2.326
	case p >= 0.9:
		return 1.2816
	case p >= 0.75:
		return 0.6745
	}
	return 0
}

// maxBytes bounds memory predictions far above any machine but far from int64 overflow.
const maxBytes = 1 << 60

// bytesOf converts a byte count computed in floating point to int64 without overflow.
func bytesOf(v float64) int64 {
	if !(v > 0) {
		return 0
	}
	return int64(min(v, maxBytes))
}

// maxSeconds bounds runtime predictions (about 3 million years) so that a corrupt
// observation or estimate can never produce +Inf.
const maxSeconds = 1e14

// maxCores bounds observed core usage; more is a measurement error.
const maxCores = 1 << 14
