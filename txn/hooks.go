package txn

import "time"

// Hook is any value implementing one or more of the Hook* interfaces below;
// register it with the Hooks option. Hooks are called synchronously from
// Run's goroutine (or a franz-go callback goroutine for rebalances): keep
// them fast and never call Processor methods other than Stats from them.
type Hook any

// TxnEnd describes one ended transaction.
type TxnEnd struct {
	Committed bool          // false: aborted (the consumer rewound to the committed offsets)
	Records   int           // input records in the transaction
	Outputs   int           // output records produced (dead letters included)
	Latency   time.Duration // time spent in End (flush, offset commit, EndTxn)
	Err       error         // non-nil: outcome unknown, the session is rebuilt
}

// HookTxnEnd is called after every transaction End.
type HookTxnEnd interface{ OnTxnEnd(TxnEnd) }

// HookRebalance is called when the group assigns or takes partitions.
type HookRebalance interface {
	OnAssigned(map[string][]int32)
	OnRevoked(map[string][]int32) // revoked or lost
}

// HookSessionRestart is called before a session is rebuilt after err.
type HookSessionRestart interface{ OnSessionRestart(err error) }

// HookDeadLetter is called when an input record is routed to the
// dead-letter topic.
type HookDeadLetter interface {
	OnDeadLetter(topic string, partition int32, offset int64, err error)
}

func (p *Processor) eachHook(fn func(Hook)) {
	for _, h := range p.cfg.hooks {
		fn(h)
	}
}
