package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eoskit/eoskit/admin"
)

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTPs(tps []admin.TopicPartition) string {
	if len(tps) == 0 {
		return "-"
	}
	s := make([]string, len(tps))
	for i, tp := range tps {
		s[i] = tp.String()
	}
	return strings.Join(s, ",")
}

func writeTxnList(w io.Writer, asJSON bool, ts []admin.Transaction) error {
	if asJSON {
		type listed struct {
			TransactionalID string `json:"transactionalId"`
			State           string `json:"state"`
			ProducerID      int64  `json:"producerId"`
			Coordinator     int32  `json:"coordinator"`
		}
		out := make([]listed, len(ts))
		for i, t := range ts {
			out[i] = listed{t.TransactionalID, t.State, t.ProducerID, t.Coordinator}
		}
		return writeJSON(w, map[string]any{"transactions": out})
	}
	if len(ts) == 0 {
		_, err := fmt.Fprintln(w, "No transactional IDs.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tSTATE\tPRODUCER-ID\tCOORDINATOR")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", t.TransactionalID, t.State, t.ProducerID, t.Coordinator)
	}
	return tw.Flush()
}

func writeTxnDescribe(w io.Writer, asJSON bool, ts []admin.Transaction) error {
	if asJSON {
		return writeJSON(w, map[string]any{"transactions": ts})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tSTATE\tPRODUCER-ID\tEPOCH\tTIMEOUT\tSTARTED\tCOORDINATOR\tPARTITIONS")
	for _, t := range ts {
		if t.Err != nil || t.Error != "" {
			fmt.Fprintf(tw, "%s\terror: %s\t-\t-\t-\t-\t%d\t-\n", t.TransactionalID, t.Error, t.Coordinator)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\t%s\n", t.TransactionalID, t.State, t.ProducerID, t.ProducerEpoch,
			t.Timeout, fmtTime(t.Started), t.Coordinator, fmtTPs(t.Partitions))
	}
	return tw.Flush()
}

func writeProducers(w io.Writer, asJSON bool, ps []admin.PartitionProducers) error {
	if asJSON {
		if ps == nil {
			ps = []admin.PartitionProducers{}
		}
		return writeJSON(w, map[string]any{"partitions": ps})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tPRODUCER-ID\tEPOCH\tCOORDINATOR-EPOCH\tLAST-SEQUENCE\tLAST-WRITE\tOPEN-TXN-FROM")
	for _, p := range ps {
		if p.Error != "" {
			fmt.Fprintf(tw, "%s\t%d\t%d\terror: %s\t\t\t\t\t\n", p.Topic, p.Partition, p.Leader, p.Error)
		}
		for _, ap := range p.Producers {
			open := "-"
			if ap.TxnStartOffset >= 0 {
				open = strconv.FormatInt(ap.TxnStartOffset, 10)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Topic, p.Partition, p.Leader, ap.ProducerID, ap.ProducerEpoch,
				ap.CoordinatorEpoch, ap.LastSequence, fmtTime(ap.LastWrite), open)
		}
	}
	return tw.Flush()
}

// openTxnName names an open transaction in one cell: its transactional ID
// (or its producer ID when no coordinator knows it), its age and why it is
// hanging.
func openTxnName(o admin.OpenTxn) string {
	s := o.TransactionalID
	if s == "" {
		s = "producer " + strconv.FormatInt(o.ProducerID, 10)
	}
	s += " (open " + fmtAge(o.Age)
	if o.Hanging() {
		s += ", hanging: " + strings.Join(o.Reasons, ",")
	}
	return s + ")"
}

func writeHanging(w io.Writer, asJSON bool, h []admin.OpenTxn) error {
	if asJSON {
		if h == nil {
			h = []admin.OpenTxn{}
		}
		return writeJSON(w, map[string]any{"hanging": h})
	}
	if len(h) == 0 {
		_, err := fmt.Fprintln(w, "No hanging transactions.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tTXN-FROM\tLSO\tHWM\tPRODUCER-ID\tEPOCH\tCOORDINATOR-EPOCH\tTRANSACTIONAL-ID\tSTATE\tAGE\tREASONS")
	for _, o := range h {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", o.Topic, o.Partition, o.StartOffset, o.LSO, o.HWM,
			o.ProducerID, o.ProducerEpoch, o.CoordinatorEpoch, orDash(o.TransactionalID), orDash(o.State), fmtAge(o.Age), strings.Join(o.Reasons, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var blocked int
	for _, o := range h {
		blocked += len(o.Blocked)
	}
	if blocked > 0 {
		fmt.Fprintln(w, "\nBlocked consumer groups:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCOMMITTED\tLAG-TO-LSO\tLAG-TO-HWM")
		for _, o := range h {
			for _, b := range o.Blocked {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", b.Group, o.Topic, o.Partition, b.Committed, b.LagToLSO, b.LagToHWM)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%d hanging. End one with: eosctl txns abort --topic %s --partition %d\n", len(h), h[0].Topic, h[0].Partition)
	return err
}

func writeAbortPlan(w io.Writer, p admin.AbortPlan) {
	if p.TransactionalID != "" {
		fmt.Fprintf(w, "Plan: fence transactional ID %s (producer ID %d, epoch %d) through its coordinator, aborting its open transaction on %s.\n",
			p.TransactionalID, p.ProducerID, p.ProducerEpoch, fmtTPs(p.Partitions))
	} else {
		fmt.Fprintf(w, "Plan: write abort markers for producer ID %d (epoch %d, coordinator epoch %d) to %s.\n",
			p.ProducerID, p.ProducerEpoch, p.CoordinatorEpoch, fmtTPs(p.Partitions))
	}
	for _, o := range p.Open {
		fmt.Fprintf(w, "  %s: transaction %s from offset %d holds the LSO at %d (HWM %d)\n", o.TopicPartition, openTxnName(o), o.StartOffset, o.LSO, o.HWM)
	}
}

func writeAbortResult(w io.Writer, asJSON bool, r admin.AbortResult) error {
	if asJSON {
		if r.Partitions == nil {
			r.Partitions = []admin.AbortedPartition{}
		}
		return writeJSON(w, r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLSO-BEFORE\tLSO-AFTER\tHWM\tRESULT")
	for _, p := range r.Partitions {
		res := "aborted"
		if p.Error != "" {
			res = "error: " + p.Error
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", p.Topic, p.Partition, p.LSOBefore, p.LSOAfter, p.HWM, res)
	}
	return tw.Flush()
}
