package sink

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Defaults. A batch closes at 50000 records, 16 MiB of keys, values and
// headers, or 100 ms after its first record, whichever comes first: a
// hundred times txn's 500, because a database transaction has a fixed
// cost that a Kafka transaction spreads differently (BEGIN, the fenced
// UPDATE, COMMIT, a pool connection: about 1.5 ms of client CPU and four
// round trips each), and the sink's COPY and commit run one batch at a
// time. In bench case sink-postgres (100 B values, 2M rows, 2026-12-02),
// 50000-record batches gave 1.5 times the rows/s of 5000-record ones
// (0.75 and 0.51 times a bare binary COPY of the same rows) at 0.70 times
// the client CPU per row; 20000 gave 0.65 times the COPY. Under a light
// load the 100 ms interval closes batches long before the record bound.
// A batch of 50000 100-byte records is one COPY of about 8 MB.
const (
	DefaultMaxBatchRecords = 50000
	DefaultMaxBatchBytes   = 16 << 20
	DefaultBatchInterval   = 100 * time.Millisecond
	DefaultHandlerRetries  = 3
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff      = 5 * time.Second
	DefaultSessionTimeout  = 45 * time.Second
	DefaultOffsetsTable    = "eoskit_offsets"
	DefaultDeadLetterTable = "eoskit_dead_letters"
)

// Opt configures a Sink (and Migrate, which reads the table names). Options
// are applied in order; New validates the result once and reports every
// problem at once in an *eoskit.OptionError.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	group          string
	topics         []string
	start          kgo.Offset
	maxRecords     int
	maxBytes       int
	interval       time.Duration
	retries        int
	retryBackoff   time.Duration
	maxBackoff     time.Duration
	sessionTimeout time.Duration
	offsetsTable   string
	deadLetter     string // "" stops Run on a poison record
	mirror         bool
	instance       string
	logger         *slog.Logger
	hooks          []eoskit.Hook
}

func defaultConfig() config {
	host, _ := os.Hostname()
	return config{
		start:          kgo.NewOffset().AtStart(),
		maxRecords:     DefaultMaxBatchRecords,
		maxBytes:       DefaultMaxBatchBytes,
		interval:       DefaultBatchInterval,
		retries:        DefaultHandlerRetries,
		retryBackoff:   DefaultRetryBackoff,
		maxBackoff:     DefaultMaxBackoff,
		sessionTimeout: DefaultSessionTimeout,
		offsetsTable:   DefaultOffsetsTable,
		mirror:         true,
		instance:       fmt.Sprintf("%s:%d", host, os.Getpid()),
		logger:         slog.New(slog.DiscardHandler),
	}
}

// WithGroup sets the consumer group the sinks share; it is also the key of
// their rows in the offsets table. Required.
func WithGroup(group string) Opt { return opt(func(c *config) { c.group = group }) }

// WithTopics sets the input topics. Required.
func WithTopics(topics ...string) Opt { return opt(func(c *config) { c.topics = topics }) }

// WithStartOffset sets where a partition with no row in the offsets table
// starts. Default: the start of the partition. Once a partition has a row,
// the row decides, never the Kafka group's committed offset.
func WithStartOffset(o kgo.Offset) Opt { return opt(func(c *config) { c.start = o }) }

// WithMaxBatchRecords bounds the records of one database transaction.
// Default DefaultMaxBatchRecords. Smaller batches cost more per row (see
// the defaults); larger ones hold more records in memory and make each
// transaction, and a rebalance waiting for it, longer.
func WithMaxBatchRecords(n int) Opt { return opt(func(c *config) { c.maxRecords = n }) }

// WithMaxBatchBytes bounds the keys, values and headers of one database
// transaction's records: a batch closes once it holds n bytes (the poll
// that crosses the bound is kept whole, so a batch may pass it by up to one
// poll). Default DefaultMaxBatchBytes: with large records, it keeps a
// batch's memory bounded where the record bound alone would not.
func WithMaxBatchBytes(n int) Opt { return opt(func(c *config) { c.maxBytes = n }) }

// WithBatchInterval bounds how long records are gathered into a batch after
// the first one arrived. Default DefaultBatchInterval.
func WithBatchInterval(d time.Duration) Opt { return opt(func(c *config) { c.interval = d }) }

// WithHandlerRetries sets how many times a record whose handler call fails
// is retried (with backoff) before it is dead-lettered or Run stops.
// Default DefaultHandlerRetries; 0 means no retry.
func WithHandlerRetries(n int) Opt { return opt(func(c *config) { c.retries = n }) }

// WithRetryBackoff sets the first backoff between retries; it doubles up to
// WithMaxBackoff. It also paces retries of a batch after a database
// failure. Default DefaultRetryBackoff.
func WithRetryBackoff(d time.Duration) Opt { return opt(func(c *config) { c.retryBackoff = d }) }

// WithMaxBackoff caps the backoff. Default DefaultMaxBackoff.
func WithMaxBackoff(d time.Duration) Opt { return opt(func(c *config) { c.maxBackoff = d }) }

// WithSessionTimeout sets the group session timeout: how long a silent
// member keeps its partitions. Default DefaultSessionTimeout.
func WithSessionTimeout(d time.Duration) Opt { return opt(func(c *config) { c.sessionTimeout = d }) }

// WithOffsetsTable names the offsets table (optionally schema-qualified,
// "schema.table"). Default DefaultOffsetsTable.
func WithOffsetsTable(name string) Opt { return opt(func(c *config) { c.offsetsTable = name }) }

// WithDeadLetterTable routes a record whose handler keeps failing into this
// table, in the same database transaction as the rest of its batch.
// Without it, Run stops with an error matching ErrPoisonRecord. Migrate
// creates the table (DefaultDeadLetterTable when this option is not given).
func WithDeadLetterTable(name string) Opt { return opt(func(c *config) { c.deadLetter = name }) }

// WithMirrorOffsets sets whether committed positions are also committed to
// the Kafka group, asynchronously, so that lag tools keep working. They are
// a hint: the offsets table is what a sink resumes from. Default true.
func WithMirrorOffsets(on bool) Opt { return opt(func(c *config) { c.mirror = on }) }

// WithInstanceID names this sink in the offsets table's owner column.
// Default "hostname:pid".
func WithInstanceID(id string) Opt { return opt(func(c *config) { c.instance = id }) }

// WithLogger receives the sink's log (keys topic, partition, group, err).
// Default: silent.
func WithLogger(l *slog.Logger) Opt { return opt(func(c *config) { c.logger = l }) }

// WithHooks adds hooks: any value implementing eoskit's HookHandled,
// HookDeadLetter, HookAssigned, HookRevoked, HookSessionStart, HookTxnEnd
// (one per batch transaction: see the package doc; metrics/prom's Metrics
// takes them), or this package's HookBatchCommit and HookFenceRefused.
func WithHooks(hooks ...eoskit.Hook) Opt {
	return opt(func(c *config) { c.hooks = append(c.hooks, hooks...) })
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// validTable reports whether name is a table name eoskit can quote
// safely: one or two identifiers of letters, digits and underscores.
func validTable(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return false
		}
	}
	return true
}

func (c *config) validateTables(p *eoskit.Problems) {
	if !validTable(c.offsetsTable) {
		p.Addf("WithOffsetsTable(%q): use a table name of letters, digits and underscores, optionally schema-qualified", c.offsetsTable)
	}
	if c.deadLetter != "" && !validTable(c.deadLetter) {
		p.Addf("WithDeadLetterTable(%q): use a table name of letters, digits and underscores, optionally schema-qualified", c.deadLetter)
	}
	if c.deadLetter != "" && c.deadLetter == c.offsetsTable {
		p.Addf("WithDeadLetterTable(%q) names the offsets table: use another table", c.deadLetter)
	}
}

func (c *config) validate(conn eoskit.Conn, havePool, haveHandler bool) error {
	p := eoskit.NewProblems("sink")
	p.Add(conn.Validate())
	if !havePool {
		p.Addf("pool is nil: pass a *pgxpool.Pool (pgxpool.New)")
	}
	if !haveHandler {
		p.Addf("handler is nil: pass a Handler that writes a batch through the transaction")
	}
	if c.group == "" {
		p.Addf("WithGroup is required")
	}
	if len(c.topics) == 0 {
		p.Addf("WithTopics is required")
	}
	for _, t := range c.topics {
		if t == "" {
			p.Addf("WithTopics: empty topic name")
		}
	}
	if c.maxRecords < 1 {
		p.Addf("WithMaxBatchRecords(%d): use 1 or more", c.maxRecords)
	}
	if c.maxBytes < 1 {
		p.Addf("WithMaxBatchBytes(%d): use 1 or more", c.maxBytes)
	}
	if c.interval <= 0 {
		p.Addf("WithBatchInterval(%v): use a positive duration", c.interval)
	}
	if c.retries < 0 {
		p.Addf("WithHandlerRetries(%d): use 0 or more", c.retries)
	}
	if c.retryBackoff <= 0 {
		p.Addf("WithRetryBackoff(%v): use a positive duration", c.retryBackoff)
	}
	if c.maxBackoff < c.retryBackoff {
		p.Addf("WithMaxBackoff(%v) is below WithRetryBackoff(%v)", c.maxBackoff, c.retryBackoff)
	}
	if c.sessionTimeout < time.Second {
		p.Addf("WithSessionTimeout(%v): use 1s or more (the brokers' group.min.session.timeout.ms bounds it)", c.sessionTimeout)
	}
	if c.instance == "" {
		p.Addf("WithInstanceID: empty")
	}
	if c.logger == nil {
		p.Addf("WithLogger(nil): omit the option for a silent sink")
	}
	c.validateTables(p)
	return p.Err()
}
