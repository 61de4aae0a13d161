package sink

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
)

// New refuses Conn.KgoOpts that would undo what the sink's exactly-once
// rests on (internal/kgoguard), naming each option; tuning stays allowed.
func TestNewRefusesKgoOptsThatUndoGuarantees(t *testing.T) {
	cb := func(context.Context, *kgo.Client, map[string][]int32) {}
	for name, o := range map[string]kgo.Opt{
		"kgo.FetchIsolationLevel":  kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		"kgo.ConsumeResetOffset":   kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		"kgo.ConsumerGroup":        kgo.ConsumerGroup("other"),
		"kgo.ConsumeTopics":        kgo.ConsumeTopics("other"),
		"kgo.ConsumeRegex":         kgo.ConsumeRegex(),
		"kgo.SessionTimeout":       kgo.SessionTimeout(time.Minute),
		"kgo.BlockRebalanceOnPoll": kgo.BlockRebalanceOnPoll(),
		"kgo.AutoCommitMarks":      kgo.AutoCommitMarks(),
		"kgo.AutoCommitCallback":   kgo.AutoCommitCallback(func(*kgo.Client, *kmsg.OffsetCommitRequest, *kmsg.OffsetCommitResponse, error) {}),
		"kgo.OnPartitionsAssigned": kgo.OnPartitionsAssigned(cb),
		"kgo.OnPartitionsRevoked":  kgo.OnPartitionsRevoked(cb),
		"kgo.OnPartitionsLost":     kgo.OnPartitionsLost(cb),
		"kgo.AdjustFetchOffsetsFn": kgo.AdjustFetchOffsetsFn(func(_ context.Context, o map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			return o, nil
		}),
		"kgo.TransactionalID": kgo.TransactionalID("x"),
	} {
		conn := eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}, KgoOpts: []kgo.Opt{kgo.FetchMaxWait(time.Second), o}}
		_, err := New(conn, testPool(t), noop, WithGroup("g"), WithTopics("a"))
		var oe *eoskit.OptionError
		if !errors.As(err, &oe) || !strings.Contains(oe.Problems[len(oe.Problems)-1], "Conn.KgoOpts sets "+name) {
			t.Errorf("%s: New returned %v, want a problem naming it", name, err)
		}
	}
	conn := eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}, KgoOpts: []kgo.Opt{
		kgo.FetchMaxWait(time.Second), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DisableAutoCommit()}}
	if _, err := New(conn, testPool(t), noop, WithGroup("g"), WithTopics("a")); err != nil {
		t.Fatalf("tuning and the sink's own settings refused: %v", err)
	}
}
