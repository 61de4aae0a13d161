// Package report holds benchmark results and renders them as a text table,
// Markdown and JSON. It does no measuring.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eoskit/eoskit/bench/internal/stats"
)

// Report is one benchmark run: where it ran and every case's results.
type Report struct {
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	KafkaVersion string    `json:"kafka_version"`
	Backend      string    `json:"backend"`
	Brokers      int       `json:"brokers"`
	Pairs        int       `json:"rounds"` // measured rounds, each side once per round
	Warmup       int       `json:"warmup"`
	CPUs         int       `json:"cpus"`
	GoVersion    string    `json:"go_version"`
	JavaVersion  string    `json:"java_version,omitempty"`
	LoadBefore   string    `json:"load_before,omitempty"` // /proc/loadavg at start
	LoadAfter    string    `json:"load_after,omitempty"`
	Notes        []string  `json:"notes,omitempty"`
	Cases        []Case    `json:"cases"`
}

// Case is one comparison of several sides, the last of which is the
// baseline, run interleaved (each side once per round, in a balanced order).
type Case struct {
	Name               string   `json:"name"`
	Title              string   `json:"title"`
	TransactionVersion int      `json:"transaction_version,omitempty"`
	Settings           string   `json:"settings,omitempty"`
	Sides              []string `json:"sides"`               // labels; the last is the baseline
	Reference          string   `json:"reference,omitempty"` // a second side the others are divided by (raw franz-go)
	Failure            string   `json:"failure,omitempty"`   // a gate or a run failed: no figures
	Figures            []Figure `json:"figures,omitempty"`
}

// Baseline is the label of the side the others are divided by.
func (c Case) Baseline() string {
	if len(c.Sides) == 0 {
		return ""
	}
	return c.Sides[len(c.Sides)-1]
}

// Figure is one measured quantity on every side.
type Figure struct {
	Name  string      `json:"name"`
	Unit  string      `json:"unit"`
	Sides []SideValue `json:"sides"`
}

// SideValue is one side's samples of a figure and, for every side but the
// baseline, the summary of its per-round ratio to the baseline (nil when the
// baseline did not measure the figure).
type SideValue struct {
	Side  string         `json:"side"`
	Value stats.Summary  `json:"value"`
	Ratio *stats.Summary `json:"ratio_to_baseline,omitempty"`
	// RatioToReference is the same against the case's Reference side.
	RatioToReference *stats.Summary `json:"ratio_to_reference,omitempty"`
	Samples          Samples        `json:"samples"`
}

// NewFigure summarises samples[i][r]: side i (the last is the baseline) in
// round r. reference names a side the others (but the baseline) are also
// divided by, or is empty. Sides with no sample at all are left out; a figure
// no side measured is returned with no sides.
func NewFigure(name, unit string, sides []string, samples [][]float64, reference string) Figure {
	f := Figure{Name: name, Unit: unit}
	base := samples[len(samples)-1]
	ref := slices.Index(sides, reference)
	ratio := func(xs, to []float64) *stats.Summary {
		if r := stats.Summarize(stats.Ratios(xs, to)); r.Valid() {
			return &r
		}
		return nil
	}
	for i, xs := range samples {
		v := SideValue{Side: sides[i], Value: stats.Summarize(xs), Samples: xs}
		if !v.Value.Valid() {
			continue
		}
		if i < len(samples)-1 {
			v.Ratio = ratio(xs, base)
			if ref >= 0 && i != ref {
				v.RatioToReference = ratio(xs, samples[ref])
			}
		}
		f.Sides = append(f.Sides, v)
	}
	return f
}

// Samples are raw measurements; NaN (not measured) is written as JSON null.
type Samples []float64

// MarshalJSON writes NaN and infinities as null.
func (s Samples) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b.WriteString("null")
			continue
		}
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	}
	b.WriteByte(']')
	return []byte(b.String()), nil
}

// UnmarshalJSON reads null as NaN.
func (s *Samples) UnmarshalJSON(data []byte) error {
	var raw []*float64
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(Samples, len(raw))
	for i, p := range raw {
		out[i] = math.NaN()
		if p != nil {
			out[i] = *p
		}
	}
	*s = out
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Header is the one-line description of where and how the run happened.
func (r *Report) Header() string {
	s := fmt.Sprintf("Apache Kafka %s, %d broker (%s backend), %d CPUs, %s", r.KafkaVersion, r.Brokers, r.Backend, r.CPUs, r.GoVersion)
	if r.JavaVersion != "" {
		s += ", " + r.JavaVersion
	}
	return s + fmt.Sprintf("; %d rounds after %d warm-up", r.Pairs, r.Warmup)
}

// WriteText writes an aligned plain-text table.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintln(w, r.Header())
	if r.LoadBefore != "" {
		fmt.Fprintf(w, "load average before: %s, after: %s\n", r.LoadBefore, r.LoadAfter)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tfigure\tside\tmedian (min-max)\tratio to baseline\tratio to reference")
	for _, c := range r.Cases {
		name := c.Name
		if c.Failure != "" {
			fmt.Fprintf(tw, "%s\tFAILED (below)\t\t\t\t\n", name)
			continue
		}
		for _, f := range c.Figures {
			label := f.label()
			for _, v := range f.Sides {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, label, sideLabel(c, v.Side), cell(v.Value, fmtNum), ratioCell(v.Ratio), ratioCell(v.RatioToReference))
				name, label = "", ""
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Cases {
		if c.Failure != "" {
			fmt.Fprintf(w, "\n%s FAILED: %s\n", c.Name, oneLine(c.Failure))
		}
	}
	return nil
}

// WriteMarkdown writes the report as a Markdown document.
func (r *Report) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "# eoskit benchmark, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "%s.\n\n", r.Header())
	if r.LoadBefore != "" {
		fmt.Fprintf(w, "Load average before: %s; after: %s.\n\n", r.LoadBefore, r.LoadAfter)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, c := range r.Cases {
		fmt.Fprintf(w, "## %s: %s\n\n", c.Name, c.Title)
		var para []string
		if c.TransactionVersion > 0 {
			para = append(para, fmt.Sprintf("Broker transaction.version %d.", c.TransactionVersion))
		}
		if c.Settings != "" {
			para = append(para, c.Settings)
		}
		if len(para) > 0 {
			fmt.Fprintf(w, "%s\n\n", strings.Join(para, " "))
		}
		if c.Failure != "" {
			fmt.Fprintf(w, "**FAILED:** %s\n\n", oneLine(c.Failure))
			continue
		}
		if c.Reference != "" {
			fmt.Fprintln(w, "| figure | side | median (min–max) | ratio to baseline | ratio to reference |")
			fmt.Fprintln(w, "|---|---|---:|---:|---:|")
		} else {
			fmt.Fprintln(w, "| figure | side | median (min–max) | ratio to baseline |")
			fmt.Fprintln(w, "|---|---|---:|---:|")
		}
		for _, f := range c.Figures {
			label := f.label()
			for _, v := range f.Sides {
				fmt.Fprintf(w, "| %s | %s | %s | %s |", label, sideLabel(c, v.Side), cell(v.Value, fmtNum), ratioCell(v.Ratio))
				if c.Reference != "" {
					fmt.Fprintf(w, " %s |", ratioCell(v.RatioToReference))
				}
				fmt.Fprintln(w)
				label = ""
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

func sideLabel(c Case, side string) string {
	switch side {
	case c.Baseline():
		return side + " [baseline]"
	case c.Reference:
		return side + " [reference]"
	}
	return side
}

func ratioCell(r *stats.Summary) string {
	if r == nil {
		return ""
	}
	return cell(*r, fmtRatio)
}

func (f Figure) label() string {
	if f.Unit == "" {
		return f.Name
	}
	return f.Name + " (" + f.Unit + ")"
}

func cell(s stats.Summary, format func(float64) string) string {
	if !s.Valid() {
		return "-"
	}
	if s.N == 1 {
		return format(s.Median)
	}
	return fmt.Sprintf("%s (%s-%s)", format(s.Median), format(s.Min), format(s.Max))
}

// fmtNum prints three significant digits without exponents.
func fmtNum(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	default:
		return strconv.FormatFloat(x, 'f', 3, 64)
	}
}

func fmtRatio(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
