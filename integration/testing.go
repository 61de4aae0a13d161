package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Start starts a cluster for a test (or a TestMain helper via StartShared) and
// registers its Close with tb.Cleanup. If the test has failed by then, the
// tail of every broker's log is written to the test log first. A cluster that
// cannot start fails the test (it never skips).
func Start(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := StartCluster(ctx, opts...)
	if err != nil {
		tb.Fatalf("start kafka cluster: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("kafka cluster %s (%s) logs:\n%s", c.BootstrapString(), c.Backend(), c.LogTail(context.Background(), 150))
		}
		if err := c.Close(); err != nil {
			tb.Logf("close kafka cluster: %v", err)
		}
	})
	return c
}

// Shared is a cluster started once in TestMain and used by every test of a
// package. Run wraps m.Run: it closes the cluster afterwards and prints the
// brokers' log tails when the tests failed.
type Shared struct {
	*Cluster
}

// StartShared starts a cluster for a package's TestMain. On error it prints
// the reason and exits with status 1, so a suite never passes by not running.
func StartShared(opts ...Option) *Shared {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := StartCluster(ctx, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start shared kafka cluster: %v\n", err)
		os.Exit(1)
	}
	return &Shared{Cluster: c}
}

// Run runs the tests, closes the cluster and returns m.Run's exit code.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "kafka cluster %s (%s) logs:\n%s", s.BootstrapString(), s.Backend(), s.LogTail(context.Background(), 150))
	}
	if err := s.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "close kafka cluster: %v\n", err)
	}
	return code
}

// AnnounceSuite prints one line that CI looks for to prove a real-broker
// suite ran: "eoskit-suite: NAME backend=B brokers=N transaction.version=V".
func AnnounceSuite(name string, c *Cluster) {
	fmt.Printf("eoskit-suite: %s backend=%s brokers=%d transaction.version=%d\n",
		name, c.Backend(), len(c.NodeIDs()), c.TransactionVersion())
}

// Context returns a context that ends after d or when the test ends.
func Context(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// UniqueName returns a topic, group or transactional ID unique to this test
// and run: the test's name, what, and a timestamp, in Kafka's legal characters.
func UniqueName(tb testing.TB, what string) string {
	name := strings.ToLower(tb.Name())
	if what != "" {
		name += "-" + what
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, name)
	return fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
}
