package txn

import (
	"slices"
	"sync"
	"time"
)

// Stats is a snapshot of a Processor's counters since New.
type Stats struct {
	RecordsIn       int64 // input records handled in committed transactions
	RecordsOut      int64 // output records in committed transactions (dead letters included)
	DeadLettered    int64 // input records routed to the dead-letter topic, committed
	TxnsCommitted   int64
	TxnsAborted     int64
	TxnsUnknown     int64 // commits whose outcome was unknown: the session was rebuilt
	Rebalances      int64 // partition assignments received
	SessionRestarts int64 // sessions closed and rebuilt after an error
	HandlerRetries  int64 // handler calls retried after an error
	ProduceRetries  int64 // transactions aborted by a transient produce error and retried
	CommitLatency   Latency
}

// Latency summarises the duration of committed transactions' End calls.
type Latency struct {
	Count              int64
	P50, P90, P99, Max time.Duration
	// Buckets[i] counts commits with latency <= LatencyBounds[i]; the last
	// bucket counts the rest.
	Buckets []int64
}

// LatencyBounds are the upper bounds of the commit latency buckets.
var LatencyBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

type stats struct {
	mu  sync.Mutex
	s   Stats
	lat []time.Duration // recent samples for percentiles (ring)
	pos int
}

const latencySamples = 4096

func (st *stats) committed(in, out, dead int, d time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.TxnsCommitted++
	st.s.RecordsIn += int64(in)
	st.s.RecordsOut += int64(out)
	st.s.DeadLettered += int64(dead)
	l := &st.s.CommitLatency
	if l.Buckets == nil {
		l.Buckets = make([]int64, len(LatencyBounds)+1)
	}
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	l.Buckets[i]++
	l.Count++
	l.Max = max(l.Max, d)
	if len(st.lat) < latencySamples {
		st.lat = append(st.lat, d)
	} else {
		st.lat[st.pos] = d
		st.pos = (st.pos + 1) % latencySamples
	}
}

func (st *stats) add(f func(*Stats)) {
	st.mu.Lock()
	f(&st.s)
	st.mu.Unlock()
}

func (st *stats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	s.CommitLatency.Buckets = append([]int64(nil), st.s.CommitLatency.Buckets...)
	if n := len(st.lat); n > 0 {
		sorted := append([]time.Duration(nil), st.lat...)
		slices.Sort(sorted)
		at := func(q float64) time.Duration { return sorted[min(n-1, int(q*float64(n)))] }
		s.CommitLatency.P50, s.CommitLatency.P90, s.CommitLatency.P99 = at(0.50), at(0.90), at(0.99)
	}
	return s
}
