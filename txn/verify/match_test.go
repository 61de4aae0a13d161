package verify_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn/verify"
)

func rec(topic string, p int32, off int64, k, v string) verify.Record {
	return verify.Record{Pos: verify.Pos{Topic: topic, Partition: p, Offset: off}, Key: []byte(k), Value: []byte(v)}
}

// from returns an output record with a provenance header naming src.
func from(topic string, p int32, off int64, src verify.Record) verify.Record {
	r := rec(topic, p, off, string(src.Key), string(src.Value))
	r.Provenance, r.HasProvenance = src.Pos.String(), true
	return r
}

// plain returns an output record copied from src without a provenance header.
func plain(topic string, p int32, off int64, src verify.Record) verify.Record {
	return rec(topic, p, off, string(src.Key), string(src.Value))
}

// inputs returns n records on in/0 with keys k<i%3> and values v<i>.
func inputs(n int) []verify.Record {
	var rs []verify.Record
	for i := range n {
		rs = append(rs, rec("in", 0, int64(i), fmt.Sprintf("k%d", i%3), fmt.Sprintf("v%d", i)))
	}
	return rs
}

var cfg = verify.Config{Input: []string{"in"}, Output: []string{"out"}, Order: true}

func TestMatch(t *testing.T) {
	in := inputs(6)
	type want struct {
		ok                                        bool
		dups, missing, unexplained, order, keyOrd int
		byHeader, byKV                            int
	}
	cases := []struct {
		name string
		cfg  verify.Config
		in   []verify.Record
		out  []verify.Record
		want want
	}{
		{"clean by header", cfg, in, []verify.Record{
			from("out", 0, 0, in[0]), from("out", 0, 1, in[1]), from("out", 0, 2, in[2]),
			from("out", 1, 0, in[3]), from("out", 1, 1, in[4]), from("out", 1, 2, in[5]),
		}, want{ok: true, byHeader: 6}},
		{"clean by key and value", cfg, in, []verify.Record{
			plain("out", 0, 0, in[0]), plain("out", 0, 1, in[1]), plain("out", 0, 2, in[2]),
			plain("out", 0, 3, in[3]), plain("out", 0, 4, in[4]), plain("out", 0, 5, in[5]),
		}, want{ok: true, byKV: 6}},
		{"empty", cfg, nil, nil, want{ok: true}},
		{"duplicate by header", cfg, in[:3], []verify.Record{
			from("out", 0, 0, in[0]), from("out", 0, 1, in[1]), from("out", 0, 2, in[2]), from("out", 1, 0, in[1]),
		}, want{dups: 1, byHeader: 4}},
		{"duplicate by key and value", cfg, in[:3], []verify.Record{
			plain("out", 0, 0, in[0]), plain("out", 0, 1, in[1]), plain("out", 0, 2, in[1]), plain("out", 0, 3, in[2]),
		}, want{dups: 1, byKV: 4}},
		{"duplicate across header and key-value", cfg, in[:2], []verify.Record{
			plain("out", 0, 0, in[0]), from("out", 0, 1, in[0]), from("out", 0, 2, in[1]),
		}, want{dups: 1, byHeader: 2, byKV: 1}},
		{"at-least-once rewind: duplicates, not reorderings", cfg, in[:4], []verify.Record{
			from("out", 0, 0, in[0]), from("out", 0, 1, in[1]), from("out", 0, 2, in[2]),
			from("out", 0, 3, in[1]), from("out", 0, 4, in[2]), from("out", 0, 5, in[3]),
		}, want{dups: 2, byHeader: 6}},
		{"missing", cfg, in[:3], []verify.Record{
			from("out", 0, 0, in[0]), from("out", 0, 1, in[2]),
		}, want{missing: 1, byHeader: 2}},
		{"unexplained by header", cfg, in[:1], []verify.Record{
			from("out", 0, 0, in[0]), from("out", 0, 1, rec("in", 0, 99, "x", "y")),
		}, want{unexplained: 1, byHeader: 1}},
		{"unexplained by key and value", cfg, in[:1], []verify.Record{
			plain("out", 0, 0, in[0]), rec("out", 0, 1, "k0", "other"),
		}, want{unexplained: 1, byKV: 1}},
		{"malformed header", cfg, in[:1], []verify.Record{
			from("out", 0, 0, in[0]), {Pos: verify.Pos{Topic: "out", Offset: 1}, Provenance: "in-0-0", HasProvenance: true},
		}, want{unexplained: 1, byHeader: 1}},
		{"header wins over key and value", cfg, in[:2], []verify.Record{
			// Both carry in[0]'s key and value, but the header says the
			// second is in[1]'s output: no duplicate, no missing.
			from("out", 0, 0, in[0]), func() verify.Record { r := from("out", 0, 1, in[1]); r.Key, r.Value = in[0].Key, in[0].Value; return r }(),
		}, want{ok: true, byHeader: 2}},
		{"reorder of the same key", cfg, in[:4], []verify.Record{
			from("out", 0, 0, in[3]), from("out", 0, 1, in[0]), from("out", 0, 2, in[1]), from("out", 0, 3, in[2]),
		}, want{order: 1, keyOrd: 1, byHeader: 4}},
		{"reorder of other keys only, checked by key", verify.Config{Input: cfg.Input, Output: cfg.Output, Order: true, OrderByKey: true}, in[:3], []verify.Record{
			from("out", 0, 0, in[1]), from("out", 0, 1, in[0]), from("out", 0, 2, in[2]),
		}, want{ok: true, order: 1, byHeader: 3}},
		{"reorder not checked", verify.Config{Input: cfg.Input, Output: cfg.Output}, in[:2], []verify.Record{
			from("out", 0, 0, in[1]), from("out", 0, 1, in[0]),
		}, want{ok: true, order: 1, byHeader: 2}},
		{"different output partitions are not ordered", cfg, in[:2], []verify.Record{
			from("out", 0, 0, in[1]), from("out", 1, 0, in[0]),
		}, want{ok: true, byHeader: 2}},
		{"different input partitions are not ordered", cfg, []verify.Record{rec("in", 0, 5, "a", "1"), rec("in", 1, 2, "b", "2")}, []verify.Record{
			from("out", 0, 0, rec("in", 0, 5, "a", "1")), from("out", 0, 1, rec("in", 1, 2, "b", "2")),
		}, want{ok: true, byHeader: 2}},
		{"repeated key and value: multiset", cfg, []verify.Record{rec("in", 0, 0, "k", "v"), rec("in", 0, 1, "k", "v")}, []verify.Record{
			rec("out", 0, 0, "k", "v"), rec("out", 0, 1, "k", "v"), rec("out", 0, 2, "k", "v"),
		}, want{dups: 1, byKV: 3}},
		{"all anomalies at once", cfg, in[:5], []verify.Record{
			from("out", 0, 0, in[0]), from("out", 0, 1, in[0]), from("out", 0, 2, in[3]), from("out", 0, 3, in[2]),
			rec("out", 0, 4, "zz", "zz"),
		}, want{dups: 1, missing: 2, unexplained: 1, order: 1, byHeader: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := verify.Match(tc.cfg, verify.Snapshot{Inputs: tc.in, Outputs: tc.out})
			c := rep.Counts
			got := want{rep.OK(), c.Duplicates, c.Missing, c.Unexplained, c.OrderViolations, c.KeyOrderViolations, c.ByHeader, c.ByKeyValue}
			if got != tc.want {
				t.Errorf("got %+v, want %+v\n%s", got, tc.want, rep)
			}
			if c.InputRecords != len(tc.in) || c.OutputRecords != len(tc.out) {
				t.Errorf("counted %d in / %d out, want %d / %d", c.InputRecords, c.OutputRecords, len(tc.in), len(tc.out))
			}
			if c.Explained+c.Missing != c.InputRecords {
				t.Errorf("explained %d + missing %d != inputs %d", c.Explained, c.Missing, c.InputRecords)
			}
			if c.ByHeader+c.ByKeyValue+c.Unexplained+c.Later != c.OutputRecords {
				t.Errorf("matched %d+%d + unexplained %d + later %d != outputs %d", c.ByHeader, c.ByKeyValue, c.Unexplained, c.Later, c.OutputRecords)
			}
		})
	}
}

func TestMatchListsAnomalies(t *testing.T) {
	in := inputs(5)
	out := []verify.Record{
		from("out", 0, 0, in[0]), from("out", 0, 1, in[0]), from("out", 0, 2, in[3]), from("out", 0, 3, in[2]),
		rec("out", 0, 4, "zz", "zz"),
	}
	rep := verify.Match(cfg, verify.Snapshot{Inputs: in, Outputs: out})
	p := func(t string, part int32, o int64) verify.Pos {
		return verify.Pos{Topic: t, Partition: part, Offset: o}
	}
	wantDup := []verify.Duplicate{{Input: p("in", 0, 0), Outputs: []verify.Pos{p("out", 0, 0), p("out", 0, 1)}}}
	if fmt.Sprint(rep.Duplicates) != fmt.Sprint(wantDup) {
		t.Errorf("duplicates %v, want %v", rep.Duplicates, wantDup)
	}
	if fmt.Sprint(rep.Missing) != fmt.Sprint([]verify.Pos{p("in", 0, 1), p("in", 0, 4)}) {
		t.Errorf("missing %v", rep.Missing)
	}
	if len(rep.Unexplained) != 1 || rep.Unexplained[0].Output != p("out", 0, 4) {
		t.Errorf("unexplained %v", rep.Unexplained)
	}
	wantOrd := verify.OrderViolation{Output: p("out", 0, 3), Input: p("in", 0, 2), After: p("in", 0, 3), Key: "k2"}
	if len(rep.OrderViolations) != 1 || rep.OrderViolations[0] != wantOrd {
		t.Errorf("order violations %+v, want %+v", rep.OrderViolations, wantOrd)
	}
	if rep.Anomalies() != 5 || rep.Truncated {
		t.Errorf("anomalies %d truncated %v, want 5 false", rep.Anomalies(), rep.Truncated)
	}
}

func TestMatchTruncates(t *testing.T) {
	in := inputs(10)
	c := cfg
	c.MaxListed = 3
	rep := verify.Match(c, verify.Snapshot{Inputs: in})
	if rep.Counts.Missing != 10 || len(rep.Missing) != 3 || !rep.Truncated {
		t.Fatalf("missing %d listed %d truncated %v, want 10 3 true", rep.Counts.Missing, len(rep.Missing), rep.Truncated)
	}
	c.MaxListed = -1
	if rep := verify.Match(c, verify.Snapshot{Inputs: in}); len(rep.Missing) != 10 || rep.Truncated {
		t.Fatalf("unlimited: listed %d truncated %v", len(rep.Missing), rep.Truncated)
	}
}

func TestMatchLater(t *testing.T) {
	in := inputs(2)
	out := []verify.Record{from("out", 0, 0, in[0]), from("out", 0, 1, in[1]), from("out", 0, 2, rec("in", 0, 2, "k", "v"))}
	ends := map[string]map[int32]int64{"in": {0: 2}}
	rep := verify.Match(cfg, verify.Snapshot{Inputs: in, Outputs: out, InputEnds: ends})
	if !rep.OK() || rep.Counts.Later != 1 {
		t.Fatalf("want OK with 1 later output:\n%s", rep)
	}
	// Without the ends, the same output is unexplained.
	if rep := verify.Match(cfg, verify.Snapshot{Inputs: in, Outputs: out}); rep.Counts.Unexplained != 1 {
		t.Fatalf("want 1 unexplained:\n%s", rep)
	}
}

func TestMatchIdentity(t *testing.T) {
	in := inputs(2)
	changed := from("out", 0, 1, in[1])
	changed.Value = []byte("transformed")
	out := []verify.Record{from("out", 0, 0, in[0]), changed}
	if rep := verify.Match(cfg, verify.Snapshot{Inputs: in, Outputs: out}); !rep.OK() {
		t.Fatalf("a transforming pipeline passes without Identity:\n%s", rep)
	}
	c := cfg
	c.Identity = true
	rep := verify.Match(c, verify.Snapshot{Inputs: in, Outputs: out})
	if rep.OK() || rep.Counts.Mismatched != 1 || rep.Mismatches[0].Field != "value" {
		t.Fatalf("want 1 value mismatch:\n%s", rep)
	}
}

func TestReportText(t *testing.T) {
	in := inputs(3)
	ok := verify.Match(cfg, verify.Snapshot{Inputs: in, Outputs: []verify.Record{from("out", 0, 0, in[0]), from("out", 0, 1, in[1]), from("out", 0, 2, in[2])}})
	if s := ok.String(); !strings.HasPrefix(s, "exactly-once check PASSED: 3 input records, 3 output records\n") || strings.Contains(s, "anomaly") {
		t.Errorf("passing report:\n%s", s)
	}
	bad := verify.Match(cfg, verify.Snapshot{Inputs: in, Outputs: []verify.Record{from("out", 0, 0, in[0]), from("out", 0, 1, in[0])}})
	s := bad.String()
	for _, want := range []string{
		"exactly-once check FAILED: 3 anomalies",
		"duplicate: input in/0/0 -> outputs out/0/0, out/0/1",
		"missing: input in/0/1 has no output",
		"missing: input in/0/2 has no output",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

func TestReportJSON(t *testing.T) {
	in := inputs(2)
	rep := verify.Match(cfg, verify.Snapshot{Inputs: in, Outputs: []verify.Record{from("out", 0, 0, in[0])}})
	var got map[string]any
	if err := json.Unmarshal(rep.JSON(), &got); err != nil {
		t.Fatal(err)
	}
	counts := got["counts"].(map[string]any)
	if counts["missing"] != 1.0 || counts["input_records"] != 2.0 || counts["duplicates"] != 0.0 {
		t.Errorf("counts %v", counts)
	}
	if m := got["missing"].([]any); len(m) != 1 || m[0].(map[string]any)["offset"] != 1.0 {
		t.Errorf("missing %v", got["missing"])
	}
	var back verify.Report
	if err := json.Unmarshal(rep.JSON(), &back); err != nil || back.Counts != rep.Counts || back.OK() {
		t.Errorf("round trip: %v %+v", err, back.Counts)
	}
}

func TestParsePos(t *testing.T) {
	for s, want := range map[string]verify.Pos{
		"in/0/0":           {Topic: "in", Partition: 0, Offset: 0},
		"my.topic-1/12/34": {Topic: "my.topic-1", Partition: 12, Offset: 34},
	} {
		got, err := verify.ParsePos(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParsePos(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "in", "in/0", "/0/0", "in/x/0", "in/0/-1", "in/-1/0", "in/0/1.5"} {
		if _, err := verify.ParsePos(s); !errors.Is(err, verify.ErrBadProvenance) {
			t.Errorf("ParsePos(%q) error %v, want ErrBadProvenance", s, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err := verify.Config{Input: []string{"a"}, Output: []string{"a"}, OrderByKey: true}.Validate()
	if !errors.Is(err, eoskit.ErrInvalidOption) || !strings.Contains(err.Error(), "both input and output") || !strings.Contains(err.Error(), "OrderByKey needs Config.Order") {
		t.Fatalf("got %v", err)
	}
	if err := (verify.Config{}).Validate(); !errors.Is(err, eoskit.ErrInvalidOption) || !strings.Contains(err.Error(), "no input topic") || !strings.Contains(err.Error(), "no output topic") {
		t.Fatalf("got %v", err)
	}
}
