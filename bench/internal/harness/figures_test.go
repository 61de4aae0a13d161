package harness

import (
	"math"
	"testing"
)

func TestFigures(t *testing.T) {
	nan := math.NaN()
	m := func(records int64, rate, cpu, rss, commit float64) Measurement {
		x := unmeasured()
		x.Records, x.RecPerSec, x.CPU, x.RSS, x.CommitP50, x.CommitP99 = records, rate, cpu, rss, commit, commit
		return x
	}
	ms := [][]Measurement{
		{m(1_000_000, 200, 2.5, 10<<20, 50), m(1_000_000, 300, 3.5, 20<<20, 70)},      // Go side
		{m(1_000_000, 100, 11.5, 100<<20, nan), m(1_000_000, 100, 9.5, 100<<20, nan)}, // baseline
	}
	figs := figures([]string{"go", "java"}, "", ms, []float64{0.5, 1.5})
	got := map[string][]float64{}
	for _, f := range figs {
		for _, v := range f.Sides {
			got[f.Name+"/"+v.Side] = []float64{v.Value.Median}
			if v.Ratio != nil {
				got[f.Name+"/"+v.Side] = append(got[f.Name+"/"+v.Side], v.Ratio.Median)
			}
		}
	}
	want := map[string][]float64{
		"throughput/go":        {250, 2.5}, // ratios 2 and 3
		"throughput/java":      {100},
		"client CPU/go":        {2.5, 0.2875}, // (2.5-0.5, 3.5-0.5) per M; ratios 2/10, 3/8
		"client CPU/java":      {9},
		"client peak RSS/go":   {15, 0.15},
		"client peak RSS/java": {100},
		"commit p50/go":        {60},
		"commit p99/go":        {60},
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || len(g) != len(w) {
			t.Errorf("%s = %v, want %v", k, g, w)
			continue
		}
		for i := range w {
			if math.Abs(g[i]-w[i]) > 1e-9 {
				t.Errorf("%s = %v, want %v", k, g, w)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("figures %v, want exactly %v (Java measures no commit latency; no side measured end-to-end)", got, want)
	}
}
