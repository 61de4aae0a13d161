package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/eoskit/eoskit/admin"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// planJSON is the stable JSON of plan and apply.
type planJSON struct {
	admin.Plan
	Summary        admin.Summary `json:"summary"`
	ChangesPending bool          `json:"changesPending"`
	Applied        bool          `json:"applied"`
}

// problemsJSON is the JSON written for an invalid spec.
type problemsJSON struct {
	Error    string          `json:"error"`
	Problems []admin.Problem `json:"problems"`
}

func writePlan(e *env, asJSON bool, p admin.Plan, applied bool) error {
	if !asJSON {
		_, err := fmt.Fprint(e.stdout, p)
		return err
	}
	if p.Topics == nil {
		p.Topics = []admin.TopicPlan{}
	}
	return writeJSON(e.stdout, planJSON{Plan: p, Summary: p.Summary(), ChangesPending: p.HasChanges() && !applied, Applied: applied})
}

func ints(is []int32) string {
	s := make([]string, len(is))
	for i, v := range is {
		s[i] = strconv.Itoa(int(v))
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func partitionStatus(p admin.PartitionStatus) string {
	var s []string
	if p.Leader < 0 {
		s = append(s, "offline")
	}
	if p.UnderMinISR {
		s = append(s, "under-min-isr")
	}
	if p.UnderReplicated {
		s = append(s, "under-replicated")
	}
	if p.Error != "" {
		s = append(s, p.Error)
	}
	if len(s) == 0 {
		return "ok"
	}
	return strings.Join(s, ",")
}

// writeDescribeTable writes partitions, then the configs that are not
// broker defaults (all of them with allConfigs).
func writeDescribeTable(w io.Writer, ds []admin.TopicDescription, allConfigs bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tREPLICAS\tISR\tSTATUS")
	for _, d := range ds {
		for _, p := range d.Partitions {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", d.Topic, p.Partition, p.Leader, ints(p.Replicas), ints(p.ISR), partitionStatus(p))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TOPIC\tCONFIG\tVALUE\tSOURCE")
	for _, d := range ds {
		for _, c := range d.Configs {
			if !allConfigs && c.Source == "DEFAULT_CONFIG" {
				continue
			}
			v := c.Value
			if c.Sensitive {
				v = "(sensitive)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Topic, c.Key, v, c.Source)
		}
	}
	return tw.Flush()
}

// lintJSON is the stable JSON of lint.
type lintJSON struct {
	Findings []admin.Finding `json:"findings"`
	Errors   int             `json:"errors"`
	Warnings int             `json:"warnings"`
}

func countFindings(fs []admin.Finding) lintJSON {
	out := lintJSON{Findings: fs}
	if out.Findings == nil {
		out.Findings = []admin.Finding{}
	}
	for _, f := range fs {
		if f.Severity == admin.SeverityError {
			out.Errors++
		} else {
			out.Warnings++
		}
	}
	return out
}

func writeLintTable(w io.Writer, fs []admin.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fs {
		topic := f.Topic
		if topic == "" {
			topic = "(cluster)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s: %s\n", f.Severity, topic, f.Check, f.Message)
		fmt.Fprintf(tw, "\t\tfix: %s\n", f.Fix)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	c := countFindings(fs)
	_, err := fmt.Fprintf(w, "%d errors, %d warnings.\n", c.Errors, c.Warnings)
	return err
}
