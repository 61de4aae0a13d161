package verify

import (
	"log/slog"
	"time"

	"github.com/eoskit/eoskit"
)

// Config says what to verify. Only Input and Output are required.
type Config struct {
	// Input are the topics the pipeline consumed; Output the topics it
	// produced to (a dead-letter topic whose records carry the provenance
	// header can be listed here too). A topic cannot be both.
	Input  []string
	Output []string

	// Order makes order violations anomalies: within an output partition,
	// the outputs of one input partition must follow its offsets.
	Order bool
	// OrderByKey, with Order, only counts violations between records with
	// the same key, for pipelines that may reorder different keys.
	OrderByKey bool
	// Identity checks that each output matched by its provenance header has
	// its input's key and value (a copy). Mismatches are anomalies.
	Identity bool

	// MaxListed caps how many anomalies of each kind the Report lists
	// (counts are always complete). 0 means DefaultMaxListed; negative, no
	// cap.
	MaxListed int

	// Wait, when positive, keeps reading the output for up to Wait while
	// some input is still unexplained (the pipeline is catching up). Run
	// then reports what it found when every input is explained or Wait has
	// passed. Zero reads the output once, to its end offsets at the start.
	Wait time.Duration

	// SettleTimeout is how long Run waits for every partition's last
	// stable offset to reach its high watermark (no open transaction
	// holding unread records). A partition still unsettled then fails the
	// verification with eoskit.ErrNotSettled: records after an open
	// transaction cannot be read, so a pass would be a guess. 0 means
	// DefaultSettleTimeout; negative checks once without waiting.
	SettleTimeout time.Duration

	// AllowCompacted verifies output topics whose cleanup.policy includes
	// compact. Compaction may delete a duplicate before it is read, so Run
	// refuses such topics (ErrCompactedOutput) unless this is set.
	AllowCompacted bool

	// Logger receives progress at debug level. Nil: silent.
	Logger *slog.Logger
}

// Validate reports every problem of c at once in an *eoskit.OptionError
// (matching eoskit.ErrInvalidOption).
func (c Config) Validate() error {
	ps := eoskit.NewProblems("verify")
	if len(c.Input) == 0 {
		ps.Addf("no input topic: name the topics the pipeline consumed (Config.Input)")
	}
	if len(c.Output) == 0 {
		ps.Addf("no output topic: name the topics the pipeline produced to (Config.Output)")
	}
	seen := map[string]string{}
	for _, t := range c.Input {
		if t == "" {
			ps.Addf("empty input topic name")
		}
		seen[t] = "input"
	}
	for _, t := range c.Output {
		if t == "" {
			ps.Addf("empty output topic name")
		} else if seen[t] == "input" {
			ps.Addf("topic %q is both input and output: a pipeline cannot be verified against itself", t)
		}
	}
	if c.OrderByKey && !c.Order {
		ps.Addf("Config.OrderByKey needs Config.Order")
	}
	if c.Wait < 0 {
		ps.Addf("negative Config.Wait %v", c.Wait)
	}
	return ps.Err()
}

// DefaultSettleTimeout is Config.SettleTimeout's default.
const DefaultSettleTimeout = 60 * time.Second

func (c Config) settleTimeout() time.Duration {
	switch {
	case c.SettleTimeout == 0:
		return DefaultSettleTimeout
	case c.SettleTimeout < 0:
		return 0
	}
	return c.SettleTimeout
}

func (c Config) maxListed() int {
	if c.MaxListed == 0 {
		return DefaultMaxListed
	}
	return c.MaxListed
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
