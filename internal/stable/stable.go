// Package stable reads a consumer group's committed offsets the way a
// read_committed reader must: with KIP-447's require_stable, so that
// offsets a transaction committed are not read before its commit markers
// are written (EndTxn returns before they are, and a plain read meanwhile
// gives the offsets from before the transaction).
//
// A broker answers require_stable with UNSTABLE_OFFSET_COMMIT per
// partition while such offsets are pending (it does not wait); kadm turns
// that into an error of the whole fetch, and franz-go retries it only
// inside its group consumer. Fetch retries it.
package stable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Fetch returns group's committed offsets for topics (as
// kadm.Client.FetchOffsetsForTopics: a partition without a commit has
// offset -1), fetched with require_stable and fetched again, after a
// short backoff, while any partition of the group answers
// UNSTABLE_OFFSET_COMMIT. When ctx ends first it returns an error
// wrapping kerr.UnstableOffsetCommit: a transaction that commits this
// group's offsets is still open (it ends by its transaction timeout at
// the latest). Other errors are returned as kadm returns them.
func Fetch(ctx context.Context, adm *kadm.Client, group string, topics ...string) (kadm.OffsetResponses, error) {
	backoff := 10 * time.Millisecond
	for {
		// kadm fails the whole fetch when any partition of the group
		// (requested or not) answers an error.
		offs, err := adm.FetchOffsetsForTopics(kadm.RequireStable(ctx), group, topics...)
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return offs, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("group %s: offsets are pending in an open transaction (it ends at its transaction timeout at the latest): %w (%w)",
				group, kerr.UnstableOffsetCommit, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}
