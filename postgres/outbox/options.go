package outbox

import (
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eoskit/eoskit"
)

// Defaults.
const (
	DefaultTable          = "eoskit_outbox"
	DefaultPublication    = "eoskit_outbox_pub"
	DefaultSlot           = "eoskit_outbox"
	DefaultPositionsTopic = "eoskit-outbox-positions"
	// DefaultTransactionalIDPrefix + slot is the default transactional ID.
	DefaultTransactionalIDPrefix = "eoskit-outbox-"
	// DefaultMaxTxnMessages bounds the messages of one Kafka transaction: a
	// database transaction with more is split into several, resumable by
	// index.
	DefaultMaxTxnMessages = 10000
	// DefaultBatchInterval bounds how long one Kafka transaction gathers
	// back-to-back database transactions.
	DefaultBatchInterval = 100 * time.Millisecond
	// DefaultStandbyTimeout is how often the relay reports its position to
	// PostgreSQL when nothing else made it (PostgreSQL's
	// wal_sender_timeout, 60 s by default, must be longer).
	DefaultStandbyTimeout = 10 * time.Second
	// DefaultRetryBackoff is the first wait before a relay session is
	// rebuilt (slot in use, connection lost); it doubles up to
	// DefaultMaxBackoff.
	DefaultRetryBackoff = 500 * time.Millisecond
	DefaultMaxBackoff   = 10 * time.Second
)

// Option configures a Relay, Migrate, MigrationSQL, GetStatus and a Writer
// (WithTable and WithLogicalMessages are the options a Writer reads; it
// ignores the others). Options are applied in order; the function taking
// them validates the result once and reports every problem at once in an
// *eoskit.OptionError.
type Option interface{ apply(*config) }

// WriterOption is an Option given to NewWriter.
type WriterOption = Option

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	slot           string
	publication    string
	table          string
	positionsTopic string
	txnID          string
	txnIDSet       bool
	maxTxnMessages int
	batchInterval  time.Duration
	logical        bool
	prefix         string
	atLeastOnce    bool
	hooks          []eoskit.Hook
	logger         *slog.Logger
	standbyTimeout time.Duration
	createSlot     bool
	retryBackoff   time.Duration
	maxBackoff     time.Duration
}

func newConfig(opts []Option) config {
	c := config{
		slot:           DefaultSlot,
		publication:    DefaultPublication,
		table:          DefaultTable,
		positionsTopic: DefaultPositionsTopic,
		maxTxnMessages: DefaultMaxTxnMessages,
		batchInterval:  DefaultBatchInterval,
		logger:         slog.New(slog.DiscardHandler),
		standbyTimeout: DefaultStandbyTimeout,
		createSlot:     true,
		retryBackoff:   DefaultRetryBackoff,
		maxBackoff:     DefaultMaxBackoff,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if !c.txnIDSet {
		c.txnID = DefaultTransactionalIDPrefix + c.slot
	}
	return c
}

// WithSlot names the logical replication slot (letters, digits and
// underscores, at most 63, as PostgreSQL requires). Default DefaultSlot.
// The slot name is also the key of the relay's position in the positions
// topic.
func WithSlot(name string) Option { return opt(func(c *config) { c.slot = name }) }

// WithPublication names the publication the relay decodes (the outbox
// table's inserts). Default DefaultPublication.
func WithPublication(name string) Option { return opt(func(c *config) { c.publication = name }) }

// WithTable names the outbox table, optionally schema-qualified
// ("schema.table"). Default DefaultTable.
func WithTable(name string) Option { return opt(func(c *config) { c.table = name }) }

// WithPositionsTopic names the compacted topic the relay stores its
// position in, inside each Kafka transaction. It is created (1 partition,
// cleanup.policy=compact) if missing. Default DefaultPositionsTopic.
func WithPositionsTopic(name string) Option { return opt(func(c *config) { c.positionsTopic = name }) }

// WithTransactionalID sets the relay's transactional ID. Default
// DefaultTransactionalIDPrefix + slot: keep it stable, so that a restarted
// relay fences the older one. Never make it random.
func WithTransactionalID(id string) Option {
	return opt(func(c *config) { c.txnID, c.txnIDSet = id, true })
}

// WithMaxTxnMessages bounds the messages of one Kafka transaction: a
// database transaction with more than n messages is split into several
// Kafka transactions of at most n (a restart resumes at the next index),
// and back-to-back small ones share a Kafka transaction up to n. Default
// DefaultMaxTxnMessages.
func WithMaxTxnMessages(n int) Option { return opt(func(c *config) { c.maxTxnMessages = n }) }

// WithBatchInterval bounds how long one Kafka transaction stays open
// gathering back-to-back database transactions: the relay commits it when
// no further transaction arrives within 2 ms, when it holds
// WithMaxTxnMessages messages, or after d. Default DefaultBatchInterval.
func WithBatchInterval(d time.Duration) Option { return opt(func(c *config) { c.batchInterval = d }) }

// WithLogicalMessages makes a Writer write each message as a
// transactional logical decoding message,
// pg_logical_emit_message(true, prefix, payload), instead of a table row,
// and a Relay relay the messages with this prefix (and not the table's
// rows). See the package documentation for the payload's encoding and the
// trade-off.
func WithLogicalMessages(prefix string) Option {
	return opt(func(c *config) { c.logical, c.prefix = true, prefix })
}

// WithAtLeastOnce makes the relay a control: a plain idempotent producer,
// the flush LSN confirmed to PostgreSQL after the messages are
// acknowledged, at the standby interval (WithStandbyTimeout, as Kafka
// Connect flushes source offsets on an interval), no positions topic. A
// relay that dies between the produce and the confirmation sends the
// messages again: this mode is NOT exactly-once.
func WithAtLeastOnce() Option { return opt(func(c *config) { c.atLeastOnce = true }) }

// WithHooks adds eoskit hook values (eoskit.HookTxnEnd, HookTxnBegin,
// HookProduce, ...): the relay's Kafka transactions report through them.
func WithHooks(hooks ...any) Option {
	return opt(func(c *config) {
		for _, h := range hooks {
			c.hooks = append(c.hooks, h)
		}
	})
}

// WithLogger receives the relay's log (keys slot, lsn, txn_id, err).
// Default: silent.
func WithLogger(l *slog.Logger) Option { return opt(func(c *config) { c.logger = l }) }

// WithStandbyTimeout sets how often the relay sends a standby status
// update to PostgreSQL when idle. Default DefaultStandbyTimeout; keep it
// below the server's wal_sender_timeout.
func WithStandbyTimeout(d time.Duration) Option { return opt(func(c *config) { c.standbyTimeout = d }) }

// WithCreateSlot sets whether the relay creates its slot when it is
// missing (Migrate always does). Default true.
func WithCreateSlot(on bool) Option { return opt(func(c *config) { c.createSlot = on }) }

// WithRetryBackoff sets the first wait before the relay retries after a
// session failure (the slot is in use by another relay, a connection was
// lost, a commit outcome is unknown); it doubles up to max. Defaults
// DefaultRetryBackoff and DefaultMaxBackoff.
func WithRetryBackoff(first, max time.Duration) Option {
	return opt(func(c *config) { c.retryBackoff, c.maxBackoff = first, max })
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
var slotRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// tableIdent splits a table name into a pgx.Identifier, or nil if it is
// not one or two identifiers of letters, digits and underscores.
func tableIdent(name string) pgx.Identifier {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil
	}
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return nil
		}
	}
	return pgx.Identifier(parts)
}

// validateWriter checks what a Writer uses.
func (c *config) validateWriter(p *eoskit.Problems) {
	if c.logical {
		if c.prefix == "" {
			p.Addf("WithLogicalMessages(%q): use a non-empty prefix that names your outbox messages", c.prefix)
		}
		return
	}
	if tableIdent(c.table) == nil {
		p.Addf("WithTable(%q): use a table name of letters, digits and underscores (at most 63), optionally schema-qualified", c.table)
	}
}

// validateDB checks what Migrate and MigrationSQL use.
func (c *config) validateDB(p *eoskit.Problems) {
	c.validateWriter(p)
	if c.logical {
		// the table options are not used, but still must be sane if given
		if tableIdent(c.table) == nil {
			p.Addf("WithTable(%q): use a table name of letters, digits and underscores (at most 63), optionally schema-qualified", c.table)
		}
	}
	if !slotRE.MatchString(c.slot) {
		p.Addf("WithSlot(%q): use 1 to 63 lower-case letters, digits and underscores (PostgreSQL's rule for slot names)", c.slot)
	}
	if !identRE.MatchString(c.publication) {
		p.Addf("WithPublication(%q): use 1 to 63 letters, digits and underscores, starting with a letter or underscore", c.publication)
	}
}

// validateRelay checks everything a Relay uses.
func (c *config) validateRelay(p *eoskit.Problems) {
	c.validateDB(p)
	if !c.atLeastOnce {
		if err := validTopic(c.positionsTopic); err != "" {
			p.Addf("WithPositionsTopic(%q): %s", c.positionsTopic, err)
		}
		if c.txnID == "" {
			p.Addf("WithTransactionalID(\"\"): use a stable ID, or omit the option for %q", DefaultTransactionalIDPrefix+c.slot)
		}
	}
	if c.maxTxnMessages <= 0 {
		p.Addf("WithMaxTxnMessages(%d): use 1 or more", c.maxTxnMessages)
	}
	if c.batchInterval <= 0 {
		p.Addf("WithBatchInterval(%v): use a positive duration", c.batchInterval)
	}
	if c.standbyTimeout <= 0 {
		p.Addf("WithStandbyTimeout(%v): use a positive duration below the server's wal_sender_timeout", c.standbyTimeout)
	}
	if c.retryBackoff <= 0 || c.maxBackoff < c.retryBackoff {
		p.Addf("WithRetryBackoff(%v, %v): use a positive first wait and a maximum at least as large", c.retryBackoff, c.maxBackoff)
	}
	if c.logger == nil {
		p.Addf("WithLogger(nil): omit the option for a silent relay")
	}
}

var topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

func validTopic(t string) string {
	switch {
	case t == "":
		return "empty topic name"
	case t == "." || t == "..":
		return "\".\" and \"..\" are not topic names"
	case !topicRE.MatchString(t):
		return "use 1 to 249 characters of letters, digits, '.', '_' and '-'"
	}
	return ""
}
