package verify

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by the errors of Config.Validate.
var ErrInvalidConfig = errors.New("invalid verify config")

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

// Validate reports every problem of c at once; errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []string
	if len(c.Input) == 0 {
		errs = append(errs, "no input topic: name the topics the pipeline consumed")
	}
	if len(c.Output) == 0 {
		errs = append(errs, "no output topic: name the topics the pipeline produced to")
	}
	seen := map[string]string{}
	for _, t := range c.Input {
		if t == "" {
			errs = append(errs, "empty input topic name")
		}
		seen[t] = "input"
	}
	for _, t := range c.Output {
		if t == "" {
			errs = append(errs, "empty output topic name")
		} else if seen[t] == "input" {
			errs = append(errs, fmt.Sprintf("topic %q is both input and output: a pipeline cannot be verified against itself", t))
		}
	}
	if c.OrderByKey && !c.Order {
		errs = append(errs, "OrderByKey needs Order")
	}
	if c.Wait < 0 {
		errs = append(errs, fmt.Sprintf("negative Wait %v", c.Wait))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(errs, "; "))
	}
	return nil
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
