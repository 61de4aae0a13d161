package harness

import (
	"errors"
	"fmt"
	"testing"
)

// roundOrder is the order of n sides in measured round r, as
// measureRounds runs them.
func roundOrder(r, n int) []int {
	orders := williams(n)
	return orders[r%len(orders)]
}

// TestRoundOrder checks the Williams design over one cycle of rounds:
// every round is a permutation of the sides, every side runs in every
// position equally often, and every ordered pair of sides is adjacent
// (one right after the other) equally often.
func TestRoundOrder(t *testing.T) {
	for n := 1; n <= 6; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cycle := n
			if n%2 == 1 && n > 1 {
				cycle = 2 * n
			}
			pos := map[[2]int]int{}   // side, position
			after := map[[2]int]int{} // side before, side after
			for r := range cycle {
				o := roundOrder(r, n)
				if len(o) != n {
					t.Fatalf("round %d: %v has %d sides, want %d", r, o, len(o), n)
				}
				seen := map[int]bool{}
				for i, s := range o {
					if s < 0 || s >= n || seen[s] {
						t.Fatalf("round %d: %v is not a permutation of %d sides", r, o, n)
					}
					seen[s] = true
					pos[[2]int{s, i}]++
					if i > 0 {
						after[[2]int{o[i-1], s}]++
					}
				}
			}
			for s := range n {
				for i := range n {
					if got, want := pos[[2]int{s, i}], cycle/n; got != want {
						t.Errorf("side %d at position %d %d times in %d rounds, want %d", s, i, got, cycle, want)
					}
				}
			}
			if n < 2 {
				return
			}
			want := cycle * (n - 1) / (n * (n - 1))
			for a := range n {
				for b := range n {
					if a != b && after[[2]int{a, b}] != want {
						t.Errorf("side %d right after side %d %d times in %d rounds, want %d", b, a, after[[2]int{a, b}], cycle, want)
					}
				}
			}
			if o := roundOrder(cycle, n); fmt.Sprint(o) != fmt.Sprint(roundOrder(0, n)) {
				t.Errorf("round %d starts a new cycle: %v, want %v", cycle, o, roundOrder(0, n))
			}
		})
	}
}

// TestMeasureRoundsFilesBySide: whatever order a round runs its sides in,
// each measurement lands under its side, in round order, and an error
// stops the rounds.
func TestMeasureRoundsFilesBySide(t *testing.T) {
	var ran []string
	ms, err := measureRounds(4, 3, func(r, i int) (Measurement, error) {
		ran = append(ran, fmt.Sprintf("%d/%d", r, i))
		return Measurement{Records: int64(10*i + r)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) != 12 || ran[0] != "0/0" || ran[3] != "1/1" {
		t.Fatalf("runs %v: want 12, round 1 starting with side 1 (roundOrder)", ran)
	}
	for i, side := range ms {
		if len(side) != 4 {
			t.Fatalf("side %d: %d measurements, want 4", i, len(side))
		}
		for r, m := range side {
			if m.Records != int64(10*i+r) {
				t.Errorf("side %d round %d holds the measurement of %d, want %d", i, r, m.Records, 10*i+r)
			}
		}
	}
	boom := errors.New("boom")
	n := 0
	if _, err := measureRounds(4, 3, func(r, i int) (Measurement, error) {
		if n++; n == 5 {
			return Measurement{}, boom
		}
		return Measurement{}, nil
	}); !errors.Is(err, boom) || n != 5 {
		t.Fatalf("err %v after %d runs, want boom after 5", err, n)
	}
}
