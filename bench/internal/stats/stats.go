// Package stats summarises benchmark samples: medians, ranges, percentiles
// and pairwise ratios. Functions never modify their arguments.
package stats

import (
	"math"
	"slices"
)

// Summary is the median and range of a set of samples.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Valid reports whether the summary has at least one sample.
func (s Summary) Valid() bool { return s.N > 0 }

// Summarize returns the median, minimum and maximum of xs, ignoring NaNs.
// An empty (or all-NaN) input gives a zero Summary with N 0.
func Summarize(xs []float64) Summary {
	v := clean(xs)
	if len(v) == 0 {
		return Summary{}
	}
	slices.Sort(v)
	return Summary{N: len(v), Median: median(v), Min: v[0], Max: v[len(v)-1]}
}

// Median returns the median of xs (the mean of the two middle values for an
// even count), or NaN when xs has no non-NaN values.
func Median(xs []float64) float64 {
	v := clean(xs)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	return median(v)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Percentile returns the p-th percentile (0 < p <= 100) of xs by the
// nearest-rank method: the smallest value with at least p% of the samples at
// or below it. It returns NaN for an empty input or p out of range.
func Percentile(xs []float64, p float64) float64 {
	v := clean(xs)
	if len(v) == 0 || p <= 0 || p > 100 {
		return math.NaN()
	}
	slices.Sort(v)
	rank := int(math.Ceil(p / 100 * float64(len(v))))
	return v[max(rank, 1)-1]
}

// Ratios returns a[i]/b[i] for each pair where both are finite and b[i] is
// not zero; other pairs give NaN so indices stay aligned. The result has the
// length of the shorter input.
func Ratios(a, b []float64) []float64 {
	n := min(len(a), len(b))
	out := make([]float64, n)
	for i := range n {
		if b[i] == 0 || math.IsNaN(a[i]) || math.IsNaN(b[i]) || math.IsInf(a[i], 0) || math.IsInf(b[i], 0) {
			out[i] = math.NaN()
			continue
		}
		out[i] = a[i] / b[i]
	}
	return out
}

func clean(xs []float64) []float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	return v
}
