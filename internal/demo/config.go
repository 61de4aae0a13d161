package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("invalid demo config")

// Defaults: a stream of 50k records over about 5 s, 3 processors, a crash
// at 40% of the stream.
const (
	DefaultRecords    = 50_000
	DefaultPartitions = 6
	DefaultProcessors = 3
	DefaultStreamFor  = 5 * time.Second
	DefaultCrashAt    = 0.4
	DefaultTimeout    = 2 * time.Minute
)

// Config describes one demo run. The zero value runs the default demo on an
// embedded kfake cluster.
type Config struct {
	// Brokers are the seed brokers of a real cluster. Empty: an embedded
	// in-process kfake cluster is started (a simulation).
	Brokers []string
	// Records is how many input records are produced. Default DefaultRecords.
	Records int
	// Partitions of the input and output topics. Default DefaultPartitions.
	Partitions int32
	// Processors is how many txn processors copy the input. Default
	// DefaultProcessors. The second one (the only one if there is one)
	// crashes mid-way and is replaced.
	Processors int
	// StreamFor spreads the input over about this long, so the processors
	// work on a live stream. Default DefaultStreamFor.
	StreamFor time.Duration
	// CrashAt is the fraction of the input copied (committed by the
	// processors) when the crash happens, in (0, 1). Default DefaultCrashAt.
	CrashAt float64
	// Timeout bounds the wait for the output to catch up. Default
	// DefaultTimeout.
	Timeout time.Duration
	// Keep keeps the demo topics on a real cluster (they are deleted by
	// default). The embedded cluster vanishes anyway.
	Keep bool

	// Progress receives a progress display while the demo runs (nil: none).
	// With Terminal, one line is redrawn in place; else a line per second.
	Progress io.Writer
	Terminal bool
	// Logger receives the processors' logs. Nil: silent.
	Logger *slog.Logger
}

// Validate reports every problem of c at once; errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []string
	if c.Records < 0 {
		errs = append(errs, fmt.Sprintf("records %d: use a positive number", c.Records))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Sprintf("partitions %d: use a positive number", c.Partitions))
	}
	if c.Processors < 0 {
		errs = append(errs, fmt.Sprintf("processors %d: use a positive number", c.Processors))
	}
	if c.StreamFor < 0 || c.Timeout < 0 {
		errs = append(errs, "durations must be positive")
	}
	if c.CrashAt < 0 || c.CrashAt >= 1 {
		errs = append(errs, fmt.Sprintf("crash-at %v: use a fraction between 0 and 1", c.CrashAt))
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			errs = append(errs, fmt.Sprintf("broker %q has no port: write host:port", b))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(errs, "; "))
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Records == 0 {
		c.Records = DefaultRecords
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Processors == 0 {
		c.Processors = DefaultProcessors
	}
	if c.StreamFor == 0 {
		c.StreamFor = DefaultStreamFor
	}
	if c.CrashAt == 0 {
		c.CrashAt = DefaultCrashAt
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
