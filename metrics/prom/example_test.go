package prom_test

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/metrics/prom"
)

// A Metrics value is a hook: here fed by hand, as txn.Processor feeds it
// when passed to txn.WithHooks.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	m, err := prom.New(reg, prom.WithGroup("uppercaser"), prom.WithTransactionalID("uppercaser-0"))
	if err != nil {
		panic(err)
	}
	m.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnCommitted, Records: 500, Outputs: 500, Commit: 4 * time.Millisecond})
	m.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnAborted, Reason: eoskit.AbortRebalance})
	n, _ := testutil.GatherAndCount(reg, "eoskit_txn_committed_total", "eoskit_txn_aborted_total")
	fmt.Println("series:", n)
	// Output: series: 7
}
