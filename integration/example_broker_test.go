//go:build integration

package integration_test

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/integration"
)

// A one-node cluster: create a topic, write with acks=all, read it back.
func ExampleStartCluster() {
	ctx := context.Background()
	c, err := integration.StartCluster(ctx, integration.WithNodes(1))
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer c.Close()

	cl, err := c.NewClient(kgo.DefaultProduceTopic("greetings"), kgo.ConsumeTopics("greetings"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "greetings"); err != nil {
		fmt.Println(err)
		return
	}
	if err := cl.ProduceSync(ctx, kgo.StringRecord("hello, kafka")).FirstErr(); err != nil {
		fmt.Println(err)
		return
	}
	fetches := cl.PollFetches(ctx)
	fetches.EachRecord(func(r *kgo.Record) { fmt.Println(string(r.Value)) })
	// Output: hello, kafka
}
