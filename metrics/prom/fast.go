package prom

import (
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The per-record figures (records in and out, handler calls) are updated
// on every record, on several goroutines: these two collectors cost one
// atomic add per counter and two per histogram observation (no float
// compare-and-swap loop, no hot/cold swap), which keeps metrics within
// the overhead budget of a consumer that spends well under 1 µs of CPU
// per record. client_golang still renders them.

// fastCounter is a counter of whole numbers.
type fastCounter struct {
	desc *prometheus.Desc
	v    atomic.Uint64
}

func (c *fastCounter) add(n uint64)                        { c.v.Add(n) }
func (c *fastCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *fastCounter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.v.Load()))
}

// fastHistogram is a histogram of durations with fixed buckets.
type fastHistogram struct {
	desc   *prometheus.Desc
	bounds []float64       // upper bounds, seconds
	ns     []int64         // the same in nanoseconds
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNs  atomic.Int64
}

func newFastHistogram(desc *prometheus.Desc, bounds []float64) *fastHistogram {
	h := &fastHistogram{desc: desc, bounds: bounds, ns: make([]int64, len(bounds)), counts: make([]atomic.Uint64, len(bounds)+1)}
	for i, b := range bounds {
		h.ns[i] = int64(b * float64(time.Second))
	}
	return h
}

func (h *fastHistogram) observe(d time.Duration) {
	i := sort.Search(len(h.ns), func(i int) bool { return int64(d) <= h.ns[i] })
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (h *fastHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *fastHistogram) Collect(ch chan<- prometheus.Metric) {
	buckets := make(map[float64]uint64, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		buckets[b] = cum
	}
	cum += h.counts[len(h.bounds)].Load()
	ch <- prometheus.MustNewConstHistogram(h.desc, cum, float64(h.sumNs.Load())/float64(time.Second), buckets)
}

func (f *factory) fastCounter(name, help string) *fastCounter {
	c := &fastCounter{desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, f.labels)}
	f.add(c)
	return c
}

func (f *factory) fastHistogram(name, help string, buckets []float64) *fastHistogram {
	h := newFastHistogram(prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, f.labels), buckets)
	f.add(h)
	return h
}
