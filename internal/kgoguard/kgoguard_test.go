package kgoguard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

var (
	base = []kgo.Opt{kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t")}
	ours = []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()), kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.TransactionalID("mine"), kgo.SessionTimeout(2 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}
)

func problems(t *testing.T, err error) []string {
	t.Helper()
	var oe *eoskit.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("got %v, want an *eoskit.OptionError", err)
	}
	return oe.Problems
}

func TestCheckReportsEveryGuardedOption(t *testing.T) {
	cb := func(context.Context, *kgo.Client, map[string][]int32) {}
	err := Check("txn", base, ours, []kgo.Opt{
		kgo.HeartbeatInterval(time.Second), // tuning, valid only with ours' session timeout
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.TransactionalID("x"),
		kgo.OnPartitionsRevoked(cb),
		kgo.ProducerLinger(0), // not guarded
	}, For("txn", Consuming, Transactional))
	got := problems(t, err)
	want := []string{"kgo.ConsumeResetOffset", "kgo.BlockRebalanceOnPoll", "kgo.OnPartitionsRevoked", "kgo.TransactionalID"}
	if len(got) != len(want) {
		t.Fatalf("problems %q, want one per tripped guard %q", got, want)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d %q does not name %s", i, got[i], w)
		}
	}
	if !strings.Contains(got[0], "txn stops with eoskit.ErrPositionLost") {
		t.Errorf("message %q does not name the package", got[0])
	}
}

func TestCheckComparesWithThePackagesSettings(t *testing.T) {
	gs := For("consumer", Consuming)
	if err := Check("consumer", base, ours, []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadUncommitted())}, gs); len(problems(t, err)) != 1 {
		t.Errorf("read_uncommitted over the package's read_committed: %v", err)
	}
	if err := Check("consumer", base, ours, []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, gs); err != nil {
		t.Errorf("the package's own value, repeated, refused: %v", err)
	}
	// Not Always: a session timeout is refused only where the package sets one.
	if err := Check("consumer", base, nil, []kgo.Opt{kgo.SessionTimeout(20 * time.Second)}, gs); err != nil {
		t.Errorf("a session timeout the package does not set refused: %v", err)
	}
	if err := Check("consumer", base, ours, []kgo.Opt{kgo.SessionTimeout(20 * time.Second)}, gs); len(problems(t, err)) != 1 {
		t.Errorf("a session timeout over the package's: %v", err)
	}
	// Always: compared with franz-go's default where the package sets nothing.
	if err := Check("producer", nil, nil, []kgo.Opt{kgo.AllowIdempotentProduceCancellation()}, For("producer", Producing)); len(problems(t, err)) != 1 {
		t.Errorf("produce cancellation: %v", err)
	}
	if err := Check("producer", nil, []kgo.Opt{kgo.AllowIdempotentProduceCancellation()}, []kgo.Opt{kgo.AllowIdempotentProduceCancellation()}, For("producer", Producing)); err != nil {
		t.Errorf("the package's own unsafe setting, repeated, refused: %v", err)
	}
	if err := Check("txn", base, ours, []kgo.Opt{kgo.ProducerLinger(0), kgo.FetchMaxWait(time.Second)}, For("txn", Consuming, Producing, Transactional)); err != nil {
		t.Errorf("unguarded options refused: %v", err)
	}
	// ours alone is invalid without the caller's tuning (franz-go's 3 s
	// heartbeat over a 2 s session): the reference takes the tuning too.
	short := []kgo.Opt{kgo.SessionTimeout(2 * time.Second)}
	if err := Check("txn", base, short, []kgo.Opt{kgo.HeartbeatInterval(500 * time.Millisecond), kgo.DisableIdempotentWrite()}, For("txn", Producing)); len(problems(t, err)) != 1 {
		t.Errorf("tuning that ours needs, with one guarded option: %v", err)
	}
	if err := Check("txn", base, ours, nil, For("txn", Consuming)); err != nil {
		t.Errorf("no options: %v", err)
	}
}

func TestCheckReportsOptionsFranzGoRejects(t *testing.T) {
	err := Check("txn", base, ours, []kgo.Opt{kgo.MaxProduceRequestsInflightPerBroker(0)}, For("txn", Consuming))
	if p := problems(t, err); len(p) != 1 || !strings.Contains(p[0], "franz-go rejects") {
		t.Fatalf("got %v", err)
	}
}

// Every guard of the catalog is tripped by an option built by its own
// constructor: the names match what users write, and the by-name guards
// are found through the closure.
func TestOptNameFindsEveryByNameGuard(t *testing.T) {
	cb := func(context.Context, *kgo.Client, map[string][]int32) {}
	for name, o := range map[string]kgo.Opt{
		"kgo.BlockRebalanceOnPoll":      kgo.BlockRebalanceOnPoll(),
		"kgo.OnPartitionsAssigned":      kgo.OnPartitionsAssigned(cb),
		"kgo.OnPartitionsLost":          kgo.OnPartitionsLost(cb),
		"kgo.AutoCommitMarks":           kgo.AutoCommitMarks(),
		"kgo.RequireStableFetchOffsets": kgo.RequireStableFetchOffsets(),
		"kgo.FetchMaxWait":              kgo.FetchMaxWait(time.Second),
	} {
		if got := OptName(o); got != name {
			t.Errorf("OptName(%s(...)) = %q", name, got)
		}
	}
	for _, s := range []Set{Consuming, AutoCommit, Producing, Transactional} {
		for _, g := range For("p", s) {
			if strings.Contains(g.Why, "%") || !strings.HasPrefix(g.Name, "kgo.") {
				t.Errorf("guard %s: %q", g.Name, g.Why)
			}
		}
	}
}
