package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/metrics/prom"
	"github.com/eoskit/eoskit/postgres/outbox"
)

func newOutboxCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "Relay a PostgreSQL transactional outbox into Kafka exactly once (postgres/outbox)",
		Long: `The transactional outbox: a service writes its messages into the outbox table
(or as transactional logical messages) inside its own database transaction, and
the relay moves them to Kafka through logical replication (pgoutput), in commit
order, each database transaction's messages in one Kafka transaction together with
the relay's position (commit LSN, index) in a compacted positions topic.

  init    create the outbox table, the publication and the replication slot
  relay   run the relay until SIGINT or SIGTERM
  status  the slot's retained WAL, its confirmed position, the stored Kafka position and the lag`,
	}
	cmd.AddCommand(newOutboxInitCmd(e), newOutboxRelayCmd(e), newOutboxStatusCmd(e))
	return cmd
}

// outboxFlags are the database-side flags the three subcommands share.
type outboxFlags struct {
	dsn, slot, table, publication, positions string
	logicalPrefix                            string
}

func (f *outboxFlags) register(cmd *cobra.Command, withPositions bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.dsn, "dsn", os.Getenv(envPostgresDSN), "PostgreSQL connection string ($"+envPostgresDSN+")")
	fl.StringVar(&f.slot, "slot", "", "replication slot (default eoskit_outbox for init)")
	fl.StringVar(&f.table, "table", "", "outbox table, optionally schema-qualified (default eoskit_outbox)")
	fl.StringVar(&f.publication, "publication", "", "publication of the outbox table (default eoskit_outbox_pub)")
	fl.StringVar(&f.logicalPrefix, "logical-messages", "", "relay transactional logical messages with this prefix (pg_logical_emit_message) instead of the table")
	if withPositions {
		fl.StringVar(&f.positions, "positions-topic", "", "compacted topic holding the relay's position (default eoskit-outbox-positions)")
	}
}

// options returns the library options the flags name; problems in their
// values are reported by the library (*eoskit.OptionError, exit 2).
func (f *outboxFlags) options() []outbox.Option {
	var opts []outbox.Option
	if f.slot != "" {
		opts = append(opts, outbox.WithSlot(f.slot))
	}
	if f.table != "" {
		opts = append(opts, outbox.WithTable(f.table))
	}
	if f.publication != "" {
		opts = append(opts, outbox.WithPublication(f.publication))
	}
	if f.positions != "" {
		opts = append(opts, outbox.WithPositionsTopic(f.positions))
	}
	if f.logicalPrefix != "" {
		opts = append(opts, outbox.WithLogicalMessages(f.logicalPrefix))
	}
	return opts
}

// require returns a usage error naming the missing flags.
func (f *outboxFlags) require(sub string, slot bool) error {
	var missing []string
	if f.dsn == "" {
		missing = append(missing, "--dsn")
	}
	if slot && f.slot == "" {
		missing = append(missing, "--slot")
	}
	if len(missing) == 0 {
		return nil
	}
	need := "--dsn"
	if slot {
		need = "--dsn and --slot"
	}
	return usageErr(fmt.Errorf("missing %v: outbox %s needs %s", missing, sub, need))
}

// conn checks --output, the connection flags, --dsn and --slot of the
// subcommand sub, and returns the Kafka connection.
func (f *outboxFlags) conn(cf *clusterFlags, output *outputFlag, sub string) (eoskit.Conn, error) {
	if err := output.validate(); err != nil {
		return eoskit.Conn{}, err
	}
	conn, err := cf.config()
	if err != nil {
		return conn, err
	}
	conn.ClientID = "eosctl-outbox"
	return conn, f.require(sub, true)
}

// outboxErr maps a library error to eosctl's exit codes.
func outboxErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, eoskit.ErrInvalidOption):
		return usageErr(err)
	}
	return withCode(exitFailed, err)
}

func newOutboxInitCmd(e *env) *cobra.Command {
	var (
		f     outboxFlags
		print bool
		to    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init --dsn DSN [--slot NAME --table T --publication P]",
		Short: "Create the outbox table, its publication and the replication slot (idempotent)",
		Long: `Create the outbox table (topic text, key bytea, value bytea, headers jsonb), the
publication of it and the logical replication slot (pgoutput) the relay reads.
Running it again changes nothing. The server needs wal_level=logical.

A slot retains WAL until the relay confirms it: a relay that stops for long makes
PostgreSQL keep every WAL segment since (see 'eosctl outbox status'); set
max_slot_wal_keep_size to bound the disk it takes, at the price of the slot being
invalidated (and the relay unable to resume) when the bound is hit.

--print-sql prints the table and publication DDL instead of running it (the slot
is then created by the relay, or by init).`,
		Example: `  eosctl outbox init --dsn postgres://app@127.0.0.1:5432/app
  eosctl outbox init --dsn "$DSN" --slot orders_outbox --table orders_outbox --publication orders_outbox_pub
  eosctl outbox init --print-sql > outbox.sql`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if print {
				fmt.Fprint(e.stdout, outbox.MigrationSQL(f.options()...))
				return nil
			}
			if err := f.require("init", false); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), to)
			defer cancel()
			if err := outbox.Migrate(ctx, f.dsn, f.options()...); err != nil {
				return outboxErr(err)
			}
			slot := f.slot
			if slot == "" {
				slot = "eoskit_outbox"
			}
			fmt.Fprintf(e.stderr, "eosctl: outbox ready (slot %s)\n", slot)
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVar(&print, "print-sql", false, "print the table and publication DDL on stdout and change nothing")
	cmd.Flags().DurationVar(&to, "timeout", 30*time.Second, "timeout for the whole operation")
	return cmd
}

type outboxRelayFlags struct {
	outboxFlags
	txnID          string
	maxTxnMessages int
	atLeastOnce    bool
	standby        time.Duration
	obs            observeFlags
	output         outputFlag
}

func newOutboxRelayCmd(e *env) *cobra.Command {
	var (
		cf clusterFlags
		f  outboxRelayFlags
	)
	cmd := &cobra.Command{
		Use:   "relay --dsn DSN --slot NAME --brokers HOST:PORT",
		Short: "Relay the outbox into Kafka exactly once, until SIGINT or SIGTERM",
		Long: `Read the outbox through the replication slot --slot (created if missing) and
produce each committed database transaction's messages to their topics in one
Kafka transaction, whose last record stores the relay's position in
--positions-topic. The flush position is confirmed to PostgreSQL only after the
Kafka commit. A database transaction larger than --max-txn-messages is split into
several Kafka transactions (resumable at the message index).

The transactional ID is stable per slot (eoskit-outbox-SLOT unless --txn-id), so
a relay started on the same slot fences the one running before it: the older one
exits with status 1 (fenced). PostgreSQL lets one reader at a time use a slot; a
second relay waits for it.

Once replicating it prints 'outbox relay ready slot=NAME' on stderr. On SIGINT or
SIGTERM it finishes its Kafka transaction, prints its counters on stdout and exits
0. Exit status: 0 after a signal, 1 fenced or failed, 2 bad flags.

--at-least-once is the control, NOT exactly-once: plain idempotent produce, the
flush position confirmed after it, no positions topic; a crash between the two
duplicates messages.`,
		Example: `  eosctl outbox relay --dsn postgres://app@127.0.0.1:5432/app --slot eoskit_outbox --brokers 127.0.0.1:9092
  eosctl outbox relay --dsn "$DSN" --slot orders_outbox --max-txn-messages 1000 --metrics-addr 127.0.0.1:9464`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runOutboxRelay(cmd.Context(), e, &cf, &f) },
	}
	cf.register(cmd)
	// A relay runs until SIGINT or SIGTERM: the whole-operation timeout does not apply.
	_ = cmd.Flags().MarkHidden("timeout")
	f.outboxFlags.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&f.txnID, "txn-id", "", "transactional ID (default eoskit-outbox-SLOT: keep it stable, it fences an older relay)")
	fl.IntVar(&f.maxTxnMessages, "max-txn-messages", 0, "split a database transaction larger than this into several Kafka transactions (0: the library's default)")
	fl.BoolVar(&f.atLeastOnce, "at-least-once", false, "the control: plain idempotent produce, confirm after it, no positions topic (NOT exactly-once)")
	fl.DurationVar(&f.standby, "standby-timeout", 0, "send a standby status update to PostgreSQL at least this often (0: the library's default)")
	f.obs.register(cmd)
	f.output.register(cmd)
	return cmd
}

// relayOptions checks the flags and returns the connection and the options.
func (f *outboxRelayFlags) relayOptions(cf *clusterFlags) (eoskit.Conn, []outbox.Option, error) {
	conn, err := f.conn(cf, &f.output, "relay")
	if err != nil {
		return conn, nil, err
	}
	opts := f.options()
	if f.txnID != "" {
		opts = append(opts, outbox.WithTransactionalID(f.txnID))
	}
	if f.maxTxnMessages != 0 {
		opts = append(opts, outbox.WithMaxTxnMessages(f.maxTxnMessages))
	}
	if f.standby != 0 {
		opts = append(opts, outbox.WithStandbyTimeout(f.standby))
	}
	if f.atLeastOnce {
		opts = append(opts, outbox.WithAtLeastOnce())
	}
	return conn, opts, nil
}

func (f *outboxRelayFlags) transactionalID() string {
	if f.txnID != "" {
		return f.txnID
	}
	return "eoskit-outbox-" + f.slot
}

func runOutboxRelay(ctx context.Context, e *env, cf *clusterFlags, f *outboxRelayFlags) error {
	conn, opts, err := f.relayOptions(cf)
	if err != nil {
		return err
	}
	if _, err := f.obs.logger(e); err != nil { // before anything listens
		return err
	}
	var built atomic.Pointer[outbox.Relay] // set once the relay is built (it needs the metrics' hooks)
	col, err := prom.NewOutboxCollector(f.slot, func(ctx context.Context) (prom.OutboxFigures, error) {
		return relayFigures(ctx, built.Load())
	})
	if err != nil {
		return usageErr(err)
	}
	ob, err := f.obs.start(ctx, e, observeScope{conn: conn, txnID: f.transactionalID(), collectors: []prometheus.Collector{col}})
	if err != nil {
		return err
	}
	defer ob.stop()
	conn.KgoOpts = append(conn.KgoOpts, ob.kgoOpts...)
	opts = append(opts, outbox.WithLogger(ob.logger), outbox.WithHooks(hooksAny(ob.hooks)...))
	r, err := outbox.NewRelay(conn, f.dsn, opts...)
	if err != nil {
		return outboxErr(err)
	}
	built.Store(r)
	mode := "exactly once"
	if f.atLeastOnce {
		mode = "AT LEAST ONCE (the control: a crash duplicates messages)"
	}
	fmt.Fprintf(e.stderr, "eosctl outbox relay: slot %s, transactional ID %s, %s; Ctrl-C stops\n", f.slot, f.transactionalID(), mode)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() { // the ready line, at every (re)start of replication
		defer close(watched)
		watchReady(done, r.Ready, func() {
			fmt.Fprintf(e.stderr, "outbox relay ready slot=%s\n", f.slot)
			if ob.ready != nil {
				// /readyz: the relay has no group; replicating stands for "joined".
				ob.ready.OnAssigned(eoskit.Assignment{})
			}
		})
	}()
	runErr := r.Run(ctx)
	ob.ended(runErr)
	close(done)
	<-watched
	if err := printRelayStats(e, f.output.format, f.slot, r.Stats()); err != nil {
		return err
	}
	if errors.Is(runErr, eoskit.ErrFenced) {
		return withCode(exitFailed, fmt.Errorf("fenced: another relay took slot %s's transactional ID %s: %w", f.slot, f.transactionalID(), runErr))
	}
	return outboxErr(runErr)
}

// relayFigures are the relay's counters and its slot's state for
// /metrics (position age negative when no position is stored).
func relayFigures(ctx context.Context, r *outbox.Relay) (prom.OutboxFigures, error) {
	if r == nil {
		return prom.OutboxFigures{PositionAge: -1}, errors.New("outbox relay not started yet")
	}
	st := r.Stats()
	fig := prom.OutboxFigures{Relayed: st.Relayed, KafkaTxns: st.KafkaTxns, PositionAge: -1}
	s, err := r.Status(ctx)
	if err != nil {
		return fig, err
	}
	fig.SlotLagBytes, fig.RetainedWALBytes = s.LagBytes, s.RetainedWALBytes
	if s.HasPosition {
		fig.PositionAge = s.PositionAge
	}
	return fig, nil
}

// watchReady calls onReady each time ready turns true, until done.
func watchReady(done <-chan struct{}, ready func() bool, onReady func()) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	was := false
	for {
		select {
		case <-done:
			return
		case <-t.C:
			now := ready()
			if now && !was {
				onReady()
			}
			was = now
		}
	}
}

func hooksAny(hs []eoskit.Hook) []any {
	out := make([]any, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// relayStats is the JSON form of the relay's final counters.
type relayStats struct {
	Slot          string `json:"slot"`
	Relayed       int64  `json:"relayed"`
	KafkaTxns     int64  `json:"kafka_transactions"`
	Skipped       int64  `json:"skipped"`
	SplitTxns     int64  `json:"split_transactions"`
	LastCommitLSN string `json:"last_commit_lsn"`
}

func printRelayStats(e *env, format, slot string, st outbox.Stats) error {
	rs := relayStats{Slot: slot, Relayed: int64(st.Relayed), KafkaTxns: int64(st.KafkaTxns), Skipped: int64(st.Skipped),
		SplitTxns: int64(st.SplitTxns), LastCommitLSN: st.LastCommitLSN.String()}
	if format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SLOT\tRELAYED\tKAFKA-TXNS\tSKIPPED\tSPLIT-TXNS\tLAST-COMMIT-LSN\n%s\t%d\t%d\t%d\t%d\t%s\n",
		rs.Slot, rs.Relayed, rs.KafkaTxns, rs.Skipped, rs.SplitTxns, rs.LastCommitLSN)
	return tw.Flush()
}

type outboxStatusFlags struct {
	outboxFlags
	output outputFlag
}

func newOutboxStatusCmd(e *env) *cobra.Command {
	var (
		cf clusterFlags
		f  outboxStatusFlags
	)
	cmd := &cobra.Command{
		Use:   "status --dsn DSN --slot NAME --brokers HOST:PORT [--output table|json]",
		Short: "Show the slot's retained WAL, confirmed position, stored Kafka position and lag",
		Long: `Read the replication slot (pg_replication_slots: restart_lsn, confirmed_flush_lsn,
wal_status, the WAL it retains) and the relay's position stored in Kafka (read
read_committed from the positions topic), and show how far the relay is behind:
the lag in bytes of WAL and the age of the stored position.

A slot whose confirmed position never advances keeps every WAL segment since:
watch the retained bytes, and bound them with max_slot_wal_keep_size (the slot is
invalidated when the bound is hit: wal_status "lost").`,
		Example: `  eosctl outbox status --dsn "$DSN" --slot eoskit_outbox --brokers 127.0.0.1:9092
  eosctl outbox status --dsn "$DSN" --slot eoskit_outbox -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := f.conn(&cf, &f.output, "status")
			if err != nil {
				return err
			}
			ctx, cancel := cf.withTimeout(cmd.Context())
			defer cancel()
			st, err := outbox.GetStatus(ctx, conn, f.dsn, f.options()...)
			if err != nil {
				return outboxErr(err)
			}
			return printOutboxStatus(e, f.output.format, st)
		},
	}
	cf.register(cmd)
	f.outboxFlags.register(cmd, true)
	f.output.register(cmd)
	return cmd
}

// outboxStatus is the JSON form of outbox.Status: LSNs as PostgreSQL
// writes them (0/16B3748), the age in seconds.
type outboxStatus struct {
	Slot               string           `json:"slot"`
	Active             bool             `json:"active"`
	ActivePID          int32            `json:"active_pid"`
	WALStatus          string           `json:"wal_status"`
	CurrentLSN         string           `json:"current_lsn"`
	RestartLSN         string           `json:"restart_lsn"`
	ConfirmedFlushLSN  string           `json:"confirmed_flush_lsn"`
	RetainedWALBytes   int64            `json:"retained_wal_bytes"`
	LagBytes           int64            `json:"lag_bytes"`
	Position           *outbox.Position `json:"position"` // null when none is stored
	PositionAgeSeconds *float64         `json:"position_age_seconds"`
}

func newOutboxStatus(st outbox.Status) outboxStatus {
	out := outboxStatus{Slot: st.Slot, Active: st.Active, ActivePID: st.ActivePID, WALStatus: st.WALStatus,
		CurrentLSN: st.CurrentLSN.String(), RestartLSN: st.RestartLSN.String(), ConfirmedFlushLSN: st.ConfirmedFlushLSN.String(),
		RetainedWALBytes: st.RetainedWALBytes, LagBytes: st.LagBytes}
	if st.HasPosition {
		pos, age := st.Position, st.PositionAge.Seconds()
		out.Position, out.PositionAgeSeconds = &pos, &age
	}
	return out
}

// printOutboxStatus prints st as JSON or as a table.
func printOutboxStatus(e *env, format string, st outbox.Status) error {
	out := newOutboxStatus(st)
	if format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	active := "no"
	if out.Active {
		active = fmt.Sprintf("yes (pid %d)", out.ActivePID)
	}
	pos, age := "none", "-"
	if out.Position != nil {
		pos = out.Position.String()
		if !out.Position.Complete {
			pos += " (split: the rest follows)"
		}
		age = st.PositionAge.Round(time.Second).String()
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "slot\t%s\nactive\t%s\nwal status\t%s\ncurrent lsn\t%s\nrestart lsn\t%s\nconfirmed flush lsn\t%s\n",
		out.Slot, active, out.WALStatus, out.CurrentLSN, out.RestartLSN, out.ConfirmedFlushLSN)
	fmt.Fprintf(tw, "retained wal\t%d bytes\nlag\t%d bytes\nkafka position\t%s\nposition age\t%s\n",
		out.RetainedWALBytes, out.LagBytes, pos, age)
	return tw.Flush()
}
