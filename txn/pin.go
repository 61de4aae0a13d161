package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/internal/stable"
)

// movesWithTheLog reports start offsets that name a position relative to
// the log's end, which moves: kgo.NewOffset().AtEnd() (with or without a
// relative shift) and kgo.NewOffset().AtLookback (-997 internally).
func movesWithTheLog(o kgo.Offset) bool {
	at := o.EpochOffset().Offset
	return at == -1 || at == -997
}

// pinStart commits, for every input partition without a committed offset,
// its current last stable offset, when the start offset moves with the
// log. Otherwise a partition that changed owner before its first commit
// would restart at the new end, skipping every record produced in
// between. The commit is a plain (generation -1) offset commit, which the
// coordinator accepts only while the group has no member: when it has
// members, the first of them pinned the partitions, and the refusal is
// expected.
func (p *Processor) pinStart(ctx context.Context) error {
	c := &p.cfg
	if !movesWithTheLog(c.start) {
		return nil
	}
	cl, err := kgo.NewClient(c.conn.Opts()...)
	if err != nil {
		return fmt.Errorf("txn: pin the start offsets: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Stable: offsets a transaction committed are pending until its
	// commit marker is written, and a partition read as uncommitted would
	// be pinned to the end. An open transaction of the group makes this
	// wait for it, at most its transaction timeout.
	committed, err := stable.Fetch(ctx, adm, c.group, c.topics...)
	if errors.Is(err, kerr.GroupIDNotFound) { // a new group: nothing committed
		committed, err = kadm.OffsetResponses{}, nil
	}
	if err != nil {
		return fmt.Errorf("txn: pin the start offsets: fetch group %s's offsets: %w", c.group, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, c.topics...)
	if err != nil {
		return fmt.Errorf("txn: pin the start offsets: list last stable offsets: %w", err)
	}
	pin := kadm.Offsets{}
	var listErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			listErr = errors.Join(listErr, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		if r, ok := committed.Lookup(o.Topic, o.Partition); ok && r.Err == nil && r.At >= 0 {
			return
		}
		pin.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
	})
	if listErr != nil {
		return fmt.Errorf("txn: pin the start offsets: %w", listErr)
	}
	if len(pin) == 0 {
		return nil
	}
	resp, err := adm.CommitOffsets(ctx, c.group, pin)
	if err == nil {
		err = resp.Error()
	}
	switch {
	case err == nil:
		c.logger.Info("txn: pinned the start offsets of a new group at the end", "txn_id", c.txnID, "group", c.group, "offsets", pin)
		return nil
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.StaleMemberEpoch),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.FencedMemberEpoch):
		c.logger.Info("txn: the group has members: its first member pinned the start offsets", "txn_id", c.txnID, "group", c.group)
		return nil
	}
	return fmt.Errorf("txn: pin the start offsets of group %s: %w", c.group, err)
}
