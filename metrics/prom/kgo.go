package prom

import (
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// KgoSubsystem is the subsystem of franz-go's client-level metrics:
// eoskit_kafka_connects_total, eoskit_kafka_produce_bytes_total, ...
const KgoSubsystem = "kafka"

// KgoOpts returns the franz-go options that feed franz-go's kprom plugin
// (connections, bytes, records and batches per topic, buffered records)
// into this Metrics' registry, under eoskit_kafka_. Append them to
// eoskit.Conn.KgoOpts:
//
//	conn.KgoOpts = append(conn.KgoOpts, m.KgoOpts()...)
//
// Every client built from that Conn (an eoskit client may build several,
// and rebuilds them after errors) adds to the same counters; the
// eoskit_kafka_buffered_* gauges follow the first client.
func (m *Metrics) KgoOpts() []kgo.Opt { return []kgo.Opt{kgo.WithHooks(m.kgo)} }

// KgoHooks returns the kgo.Hook behind KgoOpts.
func (m *Metrics) KgoHooks() kgo.Hook { return m.kgo }

// kgoHooks shares one kprom.Metrics between every client it is given to:
// kprom registers its collectors when a client starts and unregisters
// them when it closes, which breaks with several clients on one
// registry. Here kprom is a plain collector (no registry of its own),
// initialised by the first client and never unregistered.
type kgoHooks struct {
	once sync.Once
	km   *kprom.Metrics
}

func newKgoHooks(labels prometheus.Labels) *kgoHooks {
	return &kgoHooks{km: kprom.NewMetrics(Namespace,
		kprom.Registry(nil),
		kprom.Subsystem(KgoSubsystem),
		kprom.WithStaticLabel(labels),
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.UncompressedBytes, kprom.Records, kprom.Batches),
	)}
}

// Describe sends nothing: the metrics exist only once a client started,
// so the collector is unchecked.
func (*kgoHooks) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (h *kgoHooks) Collect(ch chan<- prometheus.Metric) { h.km.Collect(ch) }

func (h *kgoHooks) OnNewClient(cl *kgo.Client) { h.once.Do(func() { h.km.OnNewClient(cl) }) }

func (h *kgoHooks) OnBrokerConnect(meta kgo.BrokerMetadata, d time.Duration, c net.Conn, err error) {
	h.km.OnBrokerConnect(meta, d, c, err)
}

func (h *kgoHooks) OnBrokerDisconnect(meta kgo.BrokerMetadata, c net.Conn) {
	h.km.OnBrokerDisconnect(meta, c)
}

func (h *kgoHooks) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	h.km.OnBrokerE2E(meta, key, e2e)
}

func (h *kgoHooks) OnBrokerThrottle(meta kgo.BrokerMetadata, d time.Duration, after bool) {
	h.km.OnBrokerThrottle(meta, d, after)
}

func (h *kgoHooks) OnFetchBatchRead(meta kgo.BrokerMetadata, topic string, p int32, fm kgo.FetchBatchMetrics) {
	h.km.OnFetchBatchRead(meta, topic, p, fm)
}

func (h *kgoHooks) OnProduceBatchWritten(meta kgo.BrokerMetadata, topic string, p int32, pm kgo.ProduceBatchMetrics) {
	h.km.OnProduceBatchWritten(meta, topic, p, pm)
}
