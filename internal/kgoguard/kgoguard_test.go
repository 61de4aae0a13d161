package kgoguard

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

var (
	base = []kgo.Opt{kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t")}
	ours = []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.TransactionalID("mine"), kgo.SessionTimeout(2 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}
)

var guards = []Guard{
	{kgo.FetchIsolationLevel, "kgo.FetchIsolationLevel", "reads are read_committed", false},
	{kgo.BlockRebalanceOnPoll, "kgo.BlockRebalanceOnPoll", "Close would hang", true},
	{kgo.ConsumeResetOffset, "kgo.ConsumeResetOffset", "offsets are never reset silently", false},
	{kgo.TransactionalID, "kgo.TransactionalID", "use WithTransactionalID", false},
}

func TestCheckReportsEveryGuardedOption(t *testing.T) {
	err := Check("txn", base, ours, []kgo.Opt{
		kgo.HeartbeatInterval(time.Second), // tuning, valid only with ours' session timeout
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.TransactionalID("x"),
		kgo.ProducerLinger(0), // not guarded
	}, guards)
	var oe *eoskit.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("got %v", err)
	}
	want := []string{"kgo.BlockRebalanceOnPoll", "kgo.ConsumeResetOffset", "kgo.TransactionalID"}
	if len(oe.Problems) != len(want) {
		t.Fatalf("problems %q, want one per changed guard %q", oe.Problems, want)
	}
	for i, w := range want {
		if !strings.Contains(oe.Problems[i], w) {
			t.Errorf("problem %d %q does not name %s", i, oe.Problems[i], w)
		}
	}
	if err := Check("txn", base, ours, []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadUncommitted())}, []Guard{guards[0]}); err == nil {
		t.Error("read_uncommitted over the package's read_committed passed")
	}
	if err := Check("txn", base, ours, []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, []Guard{guards[0]}); err != nil {
		t.Errorf("the package's own value, repeated, refused: %v", err)
	}
	if err := Check("txn", base, ours, []kgo.Opt{kgo.ProducerLinger(0), kgo.FetchMaxWait(time.Second)}, guards); err != nil {
		t.Errorf("unguarded options refused: %v", err)
	}
	if err := Check("txn", base, ours, nil, guards); err != nil {
		t.Errorf("no options: %v", err)
	}
}

func TestCheckReportsOptionsFranzGoRejects(t *testing.T) {
	err := Check("txn", base, ours, []kgo.Opt{kgo.MaxProduceRequestsInflightPerBroker(0)}, guards)
	if !errors.Is(err, eoskit.ErrInvalidOption) || !strings.Contains(err.Error(), "franz-go rejects") {
		t.Fatalf("got %v", err)
	}
}
