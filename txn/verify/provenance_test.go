package verify_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/verify"
)

// The verifier matches on the header txn stamps: same key, same format.
func TestProvenanceMatchesTxn(t *testing.T) {
	if verify.ProvenanceHeader != txn.ProvenanceHeader {
		t.Fatalf("verify.ProvenanceHeader %q != txn.ProvenanceHeader %q", verify.ProvenanceHeader, txn.ProvenanceHeader)
	}
	r := &kgo.Record{Topic: "orders.v1", Partition: 7, Offset: 123456789}
	p, err := verify.ParsePos(txn.Source(r))
	if err != nil || p != (verify.Pos{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}) {
		t.Fatalf("ParsePos(txn.Source) = %v, %v", p, err)
	}
}
