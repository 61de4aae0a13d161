package harness_test

import (
	"slices"
	"testing"

	"github.com/eoskit/eoskit/bench/internal/harness"
)

func names(cs []harness.Case) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestSelected(t *testing.T) {
	all := harness.Catalog(1000)
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"copy-matched-500"}, []string{"copy-matched-500"}},
		{[]string{"copy-matched"}, []string{"copy-matched-500", "copy-matched-5000"}},
		{[]string{"produce-"}, []string{"produce-100B", "produce-1KB"}},
		{[]string{"e2e", "consume"}, []string{"consume-read-committed", "e2e-latency"}},
		{[]string{"nope"}, nil},
	} {
		if got := names(harness.Selected(all, tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("Selected(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := harness.Selected(all, nil); len(got) != len(all) {
		t.Errorf("Selected(nil) = %d cases, want all %d", len(got), len(all))
	}
}

// TestCatalog: every case has a baseline, unique name and a known kind, and
// transactional cases are the ones that need transactions.
func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range harness.Catalog(1_000_000) {
		if seen[c.Name] {
			t.Errorf("duplicate case name %s", c.Name)
		}
		seen[c.Name] = true
		if len(c.Sides) < 2 {
			t.Errorf("%s has %d sides: a case compares at least one side with a baseline", c.Name, len(c.Sides))
		}
		if !slices.Contains([]string{harness.KindProduce, harness.KindConsume, harness.KindCopy, harness.KindE2E}, c.Kind) {
			t.Errorf("%s: unknown kind %q", c.Name, c.Kind)
		}
		if c.Reference == "" {
			t.Errorf("%s has no reference side: every case compares eoskit with raw franz-go", c.Name)
		}
		if c.Reference != "" && !slices.ContainsFunc(c.Sides, func(s harness.Side) bool { return s.Label() == c.Reference }) {
			t.Errorf("%s: reference %q is not one of its sides", c.Name, c.Reference)
		}
		if c.Records < 1 || c.Partitions < 1 {
			t.Errorf("%s: %d records, %d partitions", c.Name, c.Records, c.Partitions)
		}
	}
	for _, n := range []string{"produce-100B", "produce-1KB", "txn-produce-100B", "consume-read-committed",
		"copy-matched-500", "copy-matched-5000", "copy-tuned", "eos-overhead", "e2e-latency"} {
		if !seen[n] {
			t.Errorf("case %s missing from the catalog", n)
		}
	}
}
