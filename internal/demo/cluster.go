package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cluster is where the demo runs: an embedded kfake cluster or a real one.
type cluster struct {
	fake    *kfake.Cluster // nil on a real cluster
	seeds   []string
	brokers int
	admCl   *kgo.Client
	adm     *kadm.Client
	// session is the processors' group session timeout: kfake accepts a
	// short one; Kafka's group.min.session.timeout.ms is 6 s by default.
	session time.Duration
}

func startCluster(ctx context.Context, brokers []string) (*cluster, error) {
	c := &cluster{seeds: brokers, session: 6 * time.Second}
	if len(brokers) == 0 {
		f, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.GroupMinSessionTimeout(500*time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("demo: start the embedded kfake cluster: %w", err)
		}
		c.fake, c.seeds, c.session = f, f.ListenAddrs(), 2*time.Second
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds...), kgo.ClientID("eoskit-demo"))
	if err != nil {
		c.close()
		return nil, fmt.Errorf("demo: client: %w", err)
	}
	c.admCl, c.adm = cl, kadm.NewClient(cl)
	bctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	bs, err := c.adm.ListBrokers(bctx)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("demo: reach the cluster at %s: %w (is it running? start one with 'eosctl dev cluster')", strings.Join(c.seeds, ","), err)
	}
	c.brokers = len(bs)
	return c, nil
}

func (c *cluster) close() {
	if c.admCl != nil {
		c.admCl.Close()
	}
	if c.fake != nil {
		c.fake.Close()
	}
}

func (c *cluster) describe() string {
	if c.fake != nil {
		return fmt.Sprintf("embedded kfake, %d brokers (in-process SIMULATION, not Apache Kafka)", c.brokers)
	}
	return fmt.Sprintf("Apache Kafka at %s (%d brokers)", strings.Join(c.seeds, ","), c.brokers)
}

// createTopics creates the input and output topics with replication 3 and
// min.insync.replicas 2 where the cluster has 3 brokers.
func (c *cluster) createTopics(ctx context.Context, partitions int32, topics ...string) error {
	rf := int16(min(3, c.brokers))
	minISR := "1"
	if rf >= 3 {
		minISR = "2"
	}
	resp, err := c.adm.CreateTopics(ctx, partitions, rf, map[string]*string{"min.insync.replicas": &minISR}, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("demo: create topics %v: %w", topics, err)
	}
	return nil
}

func (c *cluster) deleteTopics(ctx context.Context, topics ...string) error {
	resp, err := c.adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = resp.Error()
	}
	return err
}

// caughtUp reports whether group has committed every input partition up to
// its end offset.
func (c *cluster) caughtUp(ctx context.Context, group, topic string) (bool, error) {
	ends, err := c.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return false, err
	}
	committed, err := c.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return false, err
	}
	done := true
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset <= 0 {
			return
		}
		o, ok := committed.Lookup(e.Topic, e.Partition)
		if !ok || o.At < e.Offset {
			done = false
		}
	})
	return done, nil
}
