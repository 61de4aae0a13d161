// Package demo runs eosctl's zero-setup demo: an exactly-once copy of a live
// stream by several txn processors, one of which crashes mid-transaction and
// is replaced, verified at the end with txn/verify.
//
// Without brokers, Run starts franz-go's kfake in-process: a simulation
// that shows the mechanics but proves nothing about Apache Kafka, and the
// summary says so. With brokers, the same demo runs on a real cluster.
//
// The crash is simulated in-process: the victim's network is cut (its
// dialer closes every connection and refuses new ones), so it can neither
// end its transaction nor leave its group, as if it were killed. The
// replacement uses the same transactional ID: initialising its producer ID
// fences the victim and aborts the open transaction at once. The victim's
// goroutine is abandoned and gives up on its own (within its transaction
// timeout and the client's retries).
//
// Run blocks until the demo is done; cancelling ctx stops it with ctx's
// error. A Result with anomalies is not an error: check Result.OK.
package demo
