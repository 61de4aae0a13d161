package stats_test

import (
	"math"
	"testing"

	"github.com/eoskit/eoskit/bench/internal/stats"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want stats.Summary
	}{
		{"empty", nil, stats.Summary{}},
		{"one", []float64{3}, stats.Summary{N: 1, Median: 3, Min: 3, Max: 3}},
		{"odd unsorted", []float64{5, 1, 3}, stats.Summary{N: 3, Median: 3, Min: 1, Max: 5}},
		{"even", []float64{4, 1, 3, 2}, stats.Summary{N: 4, Median: 2.5, Min: 1, Max: 4}},
		{"NaN ignored", []float64{math.NaN(), 2, 4}, stats.Summary{N: 2, Median: 3, Min: 2, Max: 4}},
		{"all NaN", []float64{math.NaN()}, stats.Summary{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := stats.Summarize(in); got != tc.want {
				t.Fatalf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			for i := range in { // input untouched
				if in[i] != tc.in[i] && !(math.IsNaN(in[i]) && math.IsNaN(tc.in[i])) {
					t.Fatalf("input modified: %v", in)
				}
			}
		})
	}
}

func TestMedian(t *testing.T) {
	if got := stats.Median([]float64{9, 1, 5, 7}); got != 6 {
		t.Fatalf("Median = %v, want 6", got)
	}
	if got := stats.Median(nil); !math.IsNaN(got) {
		t.Fatalf("Median(nil) = %v, want NaN", got)
	}
}

func TestPercentile(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(100 - i) // 100..1, unsorted
	}
	for _, tc := range []struct{ p, want float64 }{
		{50, 50}, {99, 99}, {100, 100}, {1, 1}, {0.5, 1}, {99.9, 100},
	} {
		if got := stats.Percentile(xs, tc.p); got != tc.want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := stats.Percentile([]float64{7, 3, 5}, 50); got != 5 {
		t.Errorf("Percentile(3 values, 50) = %v, want 5", got)
	}
	for _, p := range []float64{0, -1, 101} {
		if got := stats.Percentile(xs, p); !math.IsNaN(got) {
			t.Errorf("Percentile(p=%v) = %v, want NaN", p, got)
		}
	}
	if got := stats.Percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("Percentile(nil) = %v, want NaN", got)
	}
}

func TestRatios(t *testing.T) {
	got := stats.Ratios([]float64{2, 3, 1, math.NaN(), 8}, []float64{1, 6, 0, 2})
	want := []float64{2, 0.5, math.NaN(), math.NaN()}
	if len(got) != len(want) {
		t.Fatalf("len = %d, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Errorf("Ratios[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	s := stats.Summarize(got)
	if s.N != 2 || s.Median != 1.25 {
		t.Errorf("summary of ratios = %+v, want N 2 median 1.25", s)
	}
}
