package client

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestCounterReportsTheLastRecordOnce: records of 6 partitions counted
// from 6 goroutines (as eoskit's consumer calls its handler), for totals
// below, at and above the near-end window: exactly one call reports the
// want-th record, and the sum is exact.
func TestCounterReportsTheLastRecordOnce(t *testing.T) {
	for _, want := range []int64{1, 7, counterSlots * 256, 100003} {
		var c counter
		c.init(want)
		var reported atomic.Int64
		var wg sync.WaitGroup
		per := want / 6
		for p := range int32(6) {
			n := per
			if p == 5 {
				n = want - 5*per
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n {
					if c.add(p) {
						reported.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if got := reported.Load(); got != 1 || c.sum() != want {
			t.Errorf("want %d: reported %d times, sum %d", want, got, c.sum())
		}
	}
}
