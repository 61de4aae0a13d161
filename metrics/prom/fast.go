package prom

import (
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The per-record figures (records in and out, handler calls) are updated
// on every record, on several goroutines (a consumer's partition workers,
// franz-go's produce callbacks): these two collectors cost one atomic add
// per counter, on one of several cache lines picked by the record's
// address (stripeOf), so that workers on different cores seldom pass one
// line back and forth (and no float compare-and-swap loop, no hot/cold
// swap as client_golang's). The histogram takes a sample of the handler
// calls (Handled.Untimed), two atomic adds each. client_golang still
// renders them.

// stripes is how many cache lines a fastCounter spreads over.
const stripes = 8

// stripe is one counter alone on its cache line (128 bytes: two lines,
// for the adjacent-line prefetcher).
type stripe struct {
	v atomic.Uint64
	_ [120]byte
}

// fastCounter is a counter of whole numbers.
type fastCounter struct {
	desc *prometheus.Desc
	s    [stripes]stripe
}

// add adds n on stripe p (any number: taken modulo stripes).
func (c *fastCounter) add(p int32, n uint64) { c.s[uint32(p)%stripes].v.Add(n) }

func (c *fastCounter) value() uint64 {
	var n uint64
	for i := range c.s {
		n += c.s[i].v.Load()
	}
	return n
}

func (c *fastCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *fastCounter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.value()))
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
