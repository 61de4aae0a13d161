package txn

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// learnTxnVersion reads the cluster's transaction.version before any
// commit, and a client capped below KIP-890 part 2's requests speaks
// version 1 whatever the cluster finalized (franz-go's own rule).
func TestLearnTxnVersion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster []kfake.Opt
		client  []kgo.Opt
		tv1     bool
	}{
		{"cluster tv2", nil, nil, false},
		{"cluster tv1", []kfake.Opt{kfake.MaxVersions(kversion.V3_9_0())}, nil, true},
		{"client capped", nil, []kgo.Opt{kgo.MaxVersions(kversion.V3_9_0())}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, tc.cluster...)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, tc.client...)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cl.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tv1, known := learnTxnVersion(ctx, cl, 10*time.Second)
			if !known || tv1 != tc.tv1 {
				t.Fatalf("learnTxnVersion = (tv1 %v, known %v), want (tv1 %v, known true)", tv1, known, tc.tv1)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		if _, known := learnTxnVersion(context.Background(), cl, 300*time.Millisecond); known {
			t.Fatal("learnTxnVersion knew a version without a broker to ask")
		}
	})
}
