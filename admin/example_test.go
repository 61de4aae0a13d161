package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
)

// fakeCluster starts an in-memory three-broker kfake cluster for examples.
func fakeCluster() (*kfake.Cluster, eoskit.Conn) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		panic(err)
	}
	return c, eoskit.Conn{Brokers: c.ListenAddrs()}
}

func ExampleClient_Plan() {
	cluster, conn := fakeCluster()
	defer cluster.Close()
	adm, err := admin.New(conn)
	if err != nil {
		panic(err)
	}
	defer adm.Close()
	ctx := context.Background()

	specs, err := admin.Parse("topics.yaml", strings.NewReader(`
topics:
  - name: orders
    partitions: 6
    replicationFactor: 3
    minInsyncReplicas: 2
    configs:
      retention.ms: "604800000"
`))
	if err != nil {
		panic(err)
	}
	plan, err := adm.Plan(ctx, specs)
	if err != nil {
		panic(err)
	}
	fmt.Print(plan)
	if err := adm.Apply(ctx, plan); err != nil {
		panic(err)
	}
	again, err := adm.Plan(ctx, specs)
	if err != nil {
		panic(err)
	}
	fmt.Print(again)
	// Output:
	// + create orders: 6 partitions, replication factor 3
	//     min.insync.replicas = 2
	//     retention.ms = 604800000
	// Plan: 1 to create, 0 to update, 0 unchanged.
	//   orders: up to date
	// Plan: 0 to create, 0 to update, 1 unchanged.
}

func ExampleValidateAll() {
	err := admin.ValidateAll([]admin.TopicSpec{
		{Name: "payments", Partitions: 0, ReplicationFactor: 3, MinInsyncReplicas: 4},
	})
	fmt.Println(errors.Is(err, admin.ErrInvalidSpec))
	var ve *admin.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p.Field+":", p.Message)
		}
	}
	// Output:
	// true
	// partitions: is 0
	// minInsyncReplicas: is 4, greater than replicationFactor 3: no write with acks=all could ever succeed
}

func ExampleLintSpecs() {
	for _, f := range admin.LintSpecs([]admin.TopicSpec{
		{Name: "audit", Partitions: 1, ReplicationFactor: 2, MinInsyncReplicas: 2},
	}) {
		fmt.Println(f.Severity, f.Topic, f.Check)
	}
	// Output:
	// warning audit replication-factor
	// warning audit min-insync-equals-rf
}
