package harness

import (
	"slices"
	"testing"
)

func TestRoundOrder(t *testing.T) {
	want := [][]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}}
	first := map[int]int{}
	for r, w := range want {
		got := roundOrder(r, 3)
		if !slices.Equal(got, w) {
			t.Fatalf("round %d: order %v, want %v", r, got, w)
		}
		first[got[0]]++
	}
	if len(first) != 3 {
		t.Fatalf("over 3 rounds every side runs first once; first sides %v", first)
	}
	if got := roundOrder(5, 1); !slices.Equal(got, []int{0}) {
		t.Fatalf("one side: %v", got)
	}
}
