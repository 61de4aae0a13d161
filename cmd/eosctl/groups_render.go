package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/eoskit/eoskit/admin"
)

func writeGroupList(w io.Writer, asJSON bool, gs []admin.Group) error {
	if asJSON {
		return writeJSON(w, map[string]any{"groups": gs})
	}
	if len(gs) == 0 {
		_, err := fmt.Fprintln(w, "No consumer groups.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTYPE\tSTATE\tPROTOCOL-TYPE\tCOORDINATOR")
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", g.Name, orDash(g.Type), g.State, orDash(g.ProtocolType), g.Coordinator)
	}
	return tw.Flush()
}

func writeGroupDescribe(w io.Writer, asJSON bool, gs []admin.Group) error {
	if asJSON {
		return writeJSON(w, map[string]any{"groups": gs})
	}
	for i, g := range gs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if g.Error != "" {
			fmt.Fprintf(w, "Group %s: error: %s\n", g.Name, g.Error)
			continue
		}
		fmt.Fprintf(w, "Group %s: %s, type %s, protocol %s/%s, coordinator %d, %d members\n",
			g.Name, g.State, orDash(g.Type), orDash(g.ProtocolType), orDash(g.Protocol), g.Coordinator, len(g.Members))
		if len(g.Members) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\tASSIGNED")
		for _, m := range g.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, orDash(m.InstanceID), m.ClientID, m.ClientHost, fmtTPs(m.Assigned))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func writeGroupLag(w io.Writer, asJSON bool, l admin.GroupLag) error {
	if asJSON {
		return writeJSON(w, l)
	}
	fmt.Fprintf(w, "Group %s (%s): lag %d to the LSO, %d to the HWM", l.Group, l.State, l.LagToLSO, l.LagToHWM)
	if l.Pinned > 0 {
		fmt.Fprintf(w, "; %d partitions pinned by an open transaction", l.Pinned)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tMEMBER\tCOMMITTED\tLSO\tHWM\tLAG-TO-LSO\tLAG-TO-HWM\tPINNED-BY")
	for _, p := range l.Partitions {
		committed := "-"
		if p.Committed >= 0 {
			committed = fmt.Sprint(p.Committed)
		}
		pinned := "-"
		if p.PinnedBy != nil {
			pinned = openTxnName(*p.PinnedBy)
		}
		if p.Error != "" {
			pinned = strings.TrimSpace(pinned + " error: " + p.Error)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", p.Topic, p.Partition, orDash(p.Member), committed, p.LSO, p.HWM, p.LagToLSO, p.LagToHWM, pinned)
	}
	return tw.Flush()
}
