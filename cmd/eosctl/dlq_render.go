package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/eoskit/eoskit/txn/dlq"
)

// short quotes s for a table cell, cut to n runes.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return strconv.Quote(s)
}

func source(r dlq.Record) string {
	if r.SourceTopic == "" {
		return "-"
	}
	return fmt.Sprintf("%s/%d/%d", r.SourceTopic, r.SourcePartition, r.SourceOffset)
}

func writeInspect(w io.Writer, asJSON bool, r dlq.Report) error {
	if asJSON {
		return writeJSON(w, r)
	}
	from := "from the start"
	if r.From != "start" {
		from = "from the position of " + r.From
	}
	fmt.Fprintf(w, "Dead-letter topic %s: %d records (%s", r.Topic, r.Records, from)
	for _, p := range r.Partitions {
		fmt.Fprintf(w, "; p%d %d..%d", p.Partition, p.From, p.End)
	}
	fmt.Fprintln(w, ")")
	if r.Records == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCOUNT\tERROR")
	for _, c := range r.ByError {
		fmt.Fprintf(tw, "%d\t%s\n", c.Count, short(c.Value, 100))
	}
	fmt.Fprintln(tw, "\nCOUNT\tSOURCE-TOPIC\tSOURCE-PARTITION")
	for _, c := range r.BySource {
		fmt.Fprintf(tw, "%d\t%s\t%d\n", c.Count, orDash(c.Topic), c.Partition)
	}
	fmt.Fprintln(tw, "\nCOUNT\tREPLAYED")
	for _, c := range r.ByReplays {
		fmt.Fprintf(tw, "%d\t%s times\n", c.Count, c.Value)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Shown) > 0 {
		writeRecords(w, r.Shown)
	}
	return nil
}

func writeRecords(w io.Writer, rs []dlq.Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPARTITION\tOFFSET\tTIMESTAMP\tSOURCE\tREPLAYED\tERROR\tKEY\tVALUE\tHEADERS")
	for _, d := range rs {
		hs := ""
		for i, h := range d.Headers {
			if i > 0 {
				hs += ","
			}
			hs += h.Key + "=" + h.Value
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.Partition, d.Offset, d.Timestamp.UTC().Format(time.RFC3339Nano),
			source(d), d.ReplayCount, short(d.Error, 60), short(d.Key, 40), short(d.Value, 40), orDash(hs))
	}
	tw.Flush()
}

func writeReplaySummary(w io.Writer, asJSON bool, s dlq.Summary) error {
	if asJSON {
		return writeJSON(w, s)
	}
	state := "complete"
	if !s.Complete {
		state = "incomplete (run it again to resume)"
	}
	fmt.Fprintf(w, "Replay of %s %s: %d of %d records done in %s (group %s, transactional ID %s).\n",
		s.Topic, state, s.Done, s.Total, s.Elapsed.Round(100*time.Millisecond), s.Group, s.TransactionalID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tRECORDS")
	targets := make([]string, 0, len(s.ByTarget))
	for t := range s.ByTarget {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		fmt.Fprintf(tw, "replayed to %s\t%d\n", t, s.ByTarget[t])
	}
	fmt.Fprintf(tw, "kept: left out by the filters\t%d\n", s.KeptFiltered)
	fmt.Fprintf(tw, "kept: replayed --max-replays times already\t%d\n", s.KeptMaxReplays)
	fmt.Fprintf(tw, "kept: no origin header (use --to)\t%d\n", s.KeptNoOrigin)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Kept) > 0 {
		fmt.Fprintf(w, "\nKept in %s (still to fix):", s.Topic)
		writeRecords(w, s.Kept)
	}
	return nil
}
