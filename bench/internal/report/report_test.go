package report_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eoskit/eoskit/bench/internal/report"
)

func sample() *report.Report {
	start := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	sides := []string{"eoskit", "franz-go", "Java ProducerPerformance"}
	nan := math.NaN()
	return &report.Report{
		Started: start, Finished: start.Add(time.Minute),
		KafkaVersion: "4.4.0", Backend: "processes", Brokers: 1,
		Pairs: 3, Warmup: 1, CPUs: 2, GoVersion: "go1.26.0", JavaVersion: "openjdk version \"17\"",
		LoadBefore: "1.00 0.50 0.25", LoadAfter: "2.00 1.00 0.50",
		Notes: []string{"shared machine"},
		Cases: []report.Case{
			{
				Name: "produce-100B", Title: "idempotent produce", Sides: sides, Reference: "franz-go", TransactionVersion: 2,
				Settings: "acks=all, 6 partitions",
				Figures: []report.Figure{
					report.NewFigure("throughput", "records/s", sides, [][]float64{
						{300000, 310000, 290000}, {330000, 300000, 310000}, {200000, 150000, 250000}}, "franz-go"),
					report.NewFigure("commit p99", "ms", sides, [][]float64{{12.5, 13, 11}, {nan, nan, nan}, {nan, nan, nan}}, "franz-go"),
					report.NewFigure("client CPU", "s per M records", sides, [][]float64{{0.5, 0.25, 0.75}, {0.5, 0.5, 0.5}, {1, 1, 1}}, "franz-go"),
				},
			},
			{Name: "copy-matched", Title: "exactly-once copy", Sides: []string{"franz-go", "TransactionalMessageCopier"},
				Failure: "franz-go round 2: read back 999\nrecords, want 1000"},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", b.Bytes())
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", b.Bytes())
}

func TestNewFigure(t *testing.T) {
	f := report.NewFigure("x", "", []string{"a", "b", "base"}, [][]float64{{3, 2, 1}, {math.NaN(), math.NaN(), math.NaN()}, {1, 2, 4}}, "")
	if len(f.Sides) != 2 || f.Sides[0].Side != "a" || f.Sides[1].Side != "base" {
		t.Fatalf("sides = %+v, want a and base (b measured nothing)", f.Sides)
	}
	r := f.Sides[0].Ratio
	if r == nil || r.N != 3 || r.Median != 1 || r.Min != 0.25 || r.Max != 3 {
		t.Fatalf("ratio summary = %+v, want median 1, min 0.25, max 3 over 3 rounds", r)
	}
	if f.Sides[1].Ratio != nil {
		t.Fatalf("the baseline has a ratio: %+v", f.Sides[1].Ratio)
	}
	if f.Sides[0].RatioToReference != nil {
		t.Fatalf("no reference given, but a ratio to it: %+v", f.Sides[0].RatioToReference)
	}

	g := report.NewFigure("y", "", []string{"eoskit", "franz-go", "java"}, [][]float64{{1.1, 2.2}, {1, 2}, {4, 4}}, "franz-go")
	rr := g.Sides[0].RatioToReference
	if rr == nil || math.Abs(rr.Median-1.1) > 1e-9 || g.Sides[1].RatioToReference != nil || g.Sides[2].RatioToReference != nil {
		t.Fatalf("ratios to the reference: %+v", g.Sides)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got report.Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("JSON does not parse back: %v\n%s", err, b.String())
	}
	if len(got.Cases) != 2 || got.Cases[1].Failure == "" || len(got.Cases[1].Figures) != 0 {
		t.Fatalf("cases = %+v", got.Cases)
	}
	f := got.Cases[0].Figures[0]
	if f.Name != "throughput" || len(f.Sides) != 3 || f.Sides[0].Value.Median != 300000 ||
		f.Sides[2].Value.Median != 200000 || f.Sides[0].Ratio.Median != 1.5 {
		t.Fatalf("figure = %+v", f)
	}
	commit := got.Cases[0].Figures[1]
	if len(commit.Sides) != 1 || commit.Sides[0].Side != "eoskit" {
		t.Fatalf("only eoskit measured commit latency: %+v", commit)
	}
	golden(t, "report.json", b.Bytes())
}

func TestSamplesNaNIsNull(t *testing.T) {
	b, err := json.Marshal(report.Samples{1.5, math.NaN(), math.Inf(1)})
	if err != nil || string(b) != "[1.5,null,null]" {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var s report.Samples
	if err := json.Unmarshal(b, &s); err != nil || len(s) != 3 || s[0] != 1.5 || !math.IsNaN(s[1]) {
		t.Fatalf("Unmarshal = %v, %v", s, err)
	}
}
