package hooks

import (
	"testing"
	"time"
)

// TestClockTimesASample: a handler loop's first call is timed, then one
// in TimeEvery; the others report Untimed with no duration.
func TestClockTimesASample(t *testing.T) {
	var c Clock
	var timed []int
	for i := 1; i <= 3*TimeEvery; i++ {
		began := c.Start()
		d, untimed := Took(began)
		if untimed != began.IsZero() || (untimed && d != 0) || (!untimed && d < 0) {
			t.Fatalf("call %d: duration %v untimed %v for start %v", i, d, untimed, began)
		}
		if !untimed {
			timed = append(timed, i)
		}
	}
	want := []int{1, TimeEvery + 1, 2*TimeEvery + 1}
	if len(timed) != len(want) || timed[0] != want[0] || timed[1] != want[1] || timed[2] != want[2] {
		t.Fatalf("timed calls %v, want %v", timed, want)
	}
	if d, untimed := Took(time.Now().Add(-time.Second)); untimed || d < time.Second {
		t.Fatalf("Took of a call begun 1 s ago: %v, untimed %v", d, untimed)
	}
}
