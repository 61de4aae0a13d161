package admin_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
)

// A transaction left open pins the partition's last stable offset;
// FindHanging names it and Abort ends it.
func ExampleClient_FindHanging() {
	ctx := context.Background()
	c, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	defer c.Close()
	conn := eoskit.Conn{Brokers: c.ListenAddrs()}

	// A producer writes in a transaction and never ends it.
	p, _ := conn.NewClient(kgo.TransactionalID("orders-7"), kgo.TransactionTimeout(10*time.Minute), kgo.DefaultProduceTopic("orders"))
	defer p.Close()
	_ = p.BeginTransaction()
	_ = p.ProduceSync(ctx, &kgo.Record{Value: []byte("never committed")}).FirstErr()
	time.Sleep(20 * time.Millisecond)

	adm, _ := admin.New(conn)
	defer adm.Close()
	hanging, _ := adm.FindHanging(ctx, admin.HangingOptions{MaxAge: 10 * time.Millisecond})
	for _, h := range hanging {
		fmt.Println(h.TopicPartition, h.TransactionalID, h.Reasons, "LSO", h.LSO, "HWM", h.HWM)
	}
	plan, _ := adm.PlanAbort(ctx, admin.AbortPartition("orders", 0))
	res, _ := adm.Abort(ctx, plan)
	fmt.Println("LSO", res.Partitions[0].LSOBefore, "->", res.Partitions[0].LSOAfter)
	// Output:
	// orders/0 orders-7 [older-than-max-age] LSO 0 HWM 1
	// LSO 0 -> 2
}
