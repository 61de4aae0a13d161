package sink

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// flight is a batch whose database transaction runs on its own goroutine
// while Run fetches the next batch.
type flight struct {
	db   chan struct{} // closed when the database part ended (committed, refused, failed)
	done chan struct{} // closed after that and the offsets' mirror request
	err  error         // what process returned; read after done
}

// launch starts b's transaction. A failure cancels the collect in
// progress (stop), so Run sees it without waiting for more records.
func (s *Sink) launch(ctx context.Context, cl *kgo.Client, b *batch, stop context.CancelCauseFunc) {
	f := &flight{db: make(chan struct{}), done: make(chan struct{})}
	s.flight.Store(f)
	go func() {
		defer close(f.done)
		done, err := s.process(ctx, b)
		f.err = err
		close(f.db)
		if err != nil {
			stop(err)
			return
		}
		if done != nil {
			s.mirrorOffsets(ctx, cl, done.mirror)
		}
	}()
}

// land waits for the batch in flight, if any, and returns its error.
func (s *Sink) land() error {
	f := s.flight.Swap(nil)
	if f == nil {
		return nil
	}
	<-f.done
	return f.err
}

// waitFlight waits until the batch in flight, if any, has ended in the
// database (not for its mirror request: the rebalance callbacks that call
// this may hold up franz-go's commits).
func (s *Sink) waitFlight() {
	if f := s.flight.Load(); f != nil {
		<-f.db
	}
}

// stillHeld returns b without the partitions this sink no longer holds
// under the epoch their records were fetched with; their records count as
// dropped.
func (s *Sink) stillHeld(b *batch) *batch {
	s.mu.Lock()
	var gone map[tp]bool
	for k, bp := range b.parts {
		if st := s.owned[k]; st == nil || st.epoch != bp.epoch {
			if gone == nil {
				gone = map[tp]bool{}
			}
			gone[k] = true
		}
	}
	s.mu.Unlock()
	if gone == nil {
		return b
	}
	nb := b.without(gone)
	s.stats.dropped.Add(int64(len(b.recs) - len(nb.recs)))
	return nb
}
