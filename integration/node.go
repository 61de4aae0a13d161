package integration

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed assets/start.sh
var startScript []byte

//go:embed assets/log4j2.properties
var log4jConfig []byte

// node is one combined broker+controller.
type node struct {
	id             int32
	controllerOnly bool // a dedicated KRaft controller (no broker listener)
	brokerPort     int
	controllerPort int
	saslPort       int      // SASL_SSL listener (WithSASLSSL)
	mtlsPort       int      // SSL listener requiring client certificates (WithSASLSSL)
	hostDir        string   // files for this node on the host (and data for processes)
	net            *nodeNet // with WithNetworkFaults
}

// addr is the broker's real client listener.
func (n *node) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.brokerPort) }

// clientAddr is the address clients use: the client proxy with network faults.
func (n *node) clientAddr() string {
	if n.net != nil {
		return n.net.clientAddr
	}
	return n.addr()
}

// DefaultKafkaHome is where `make kafka` puts the jars of a Kafka version:
// $XDG_CACHE_HOME/eoskit/kafka-VERSION (os.UserCacheDir).
func DefaultKafkaHome(version string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "eoskit", "kafka-"+version)
}

// newClusterID returns a random KRaft cluster ID (base64url of 16 bytes, as
// kafka-storage random-uuid prints).
// Like Kafka's Uuid.randomUuid it never starts with '-', which the storage
// tool's argument parser would take for an option.
func newClusterID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1. The ports are
// released before the brokers bind them; collisions are unlikely but possible.
func freePorts(n int) ([]int, error) {
	ports, release, err := holdPorts(n)
	release()
	return ports, err
}

// holdPorts reserves n distinct free TCP ports on 127.0.0.1 and keeps them
// bound until release is called, so that listeners opened meanwhile on
// port 0 (the fault proxies) or a second reservation cannot take them.
func holdPorts(n int) (ports []int, release func(), err error) {
	ls := make([]net.Listener, 0, n)
	release = func() {
		for _, l := range ls {
			_ = l.Close()
		}
		ls = nil
	}
	ports = make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			release()
			return nil, func() {}, fmt.Errorf("integration: reserve a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, release, nil
}

// nodeProperties renders a node's server properties. logDir is the data folder
// as the broker sees it.
func nodeProperties(cfg *config, nodes []*node, n *node, logDir string, security map[string]string) string {
	voters := make([]string, 0, len(nodes))
	brokers := 0
	for _, o := range nodes {
		if o.controllerOnly || !cfg.dedicatedController {
			voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", o.id, o.controllerPort))
		}
		if !o.controllerOnly {
			brokers++
		}
	}
	rf := "1"
	minISR := "1"
	if brokers >= 3 {
		rf, minISR = "3", "2"
	}
	p := map[string]string{
		"process.roles":                                    "broker,controller",
		"node.id":                                          fmt.Sprint(n.id),
		"controller.quorum.voters":                         strings.Join(voters, ","),
		"listeners":                                        fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", n.brokerPort, n.controllerPort),
		"advertised.listeners":                             fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", n.brokerPort),
		"listener.security.protocol.map":                   "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name":                       "PLAINTEXT",
		"controller.listener.names":                        "CONTROLLER",
		"log.dirs":                                         logDir,
		"offsets.topic.replication.factor":                 rf,
		"transaction.state.log.replication.factor":         rf,
		"transaction.state.log.min.isr":                    minISR,
		"share.coordinator.state.topic.replication.factor": rf,
		"share.coordinator.state.topic.min.isr":            minISR,
		"offsets.topic.num.partitions":                     "10",
		"transaction.state.log.num.partitions":             "10",
		"group.initial.rebalance.delay.ms":                 "0",
		"auto.create.topics.enable":                        "false",
		"num.partitions":                                   "1",
		"default.replication.factor":                       rf,
		"min.insync.replicas":                              "1",
		// Faster failure detection and recovery for tests with faults.
		"replica.lag.time.max.ms":                                     "10000",
		"controller.quorum.election.timeout.ms":                       "1000",
		"controller.quorum.fetch.timeout.ms":                          "2000",
		"broker.session.timeout.ms":                                   "6000",
		"broker.heartbeat.interval.ms":                                "1000",
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": "2000",
		"unclean.leader.election.enable":                              "false",
		"delete.topic.enable":                                         "true",
	}
	switch {
	case n.controllerOnly:
		p["process.roles"] = "controller"
		p["listeners"] = fmt.Sprintf("CONTROLLER://127.0.0.1:%d", n.controllerPort)
		p["listener.security.protocol.map"] = "CONTROLLER:PLAINTEXT"
		delete(p, "advertised.listeners")
		delete(p, "inter.broker.listener.name")
	case cfg.dedicatedController:
		p["process.roles"] = "broker"
		p["listeners"] = fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", n.brokerPort)
	}
	if n.net != nil {
		applyNetProperties(cfg, n, p)
	}
	for k, v := range security {
		p[k] = v
	}
	if n.controllerOnly && cfg.authorizer {
		p["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
		p["super.users"] = "User:ANONYMOUS;User:" + AdminUser
	}
	if len(cfg.groupProtocols) > 0 {
		p["group.coordinator.rebalance.protocols"] = strings.Join(cfg.groupProtocols, ",")
	}
	for k, v := range cfg.brokerConfigs {
		p[k] = v
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by eoskit/integration.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, p[k])
	}
	return b.String()
}

// nodeFiles are the files a node's start script reads, by name. dir is the
// folder holding them as the broker sees it.
func nodeFiles(cfg *config, nodes []*node, n *node, clusterID, logDir, dir string, p *pki) map[string][]byte {
	var security map[string]string
	files := map[string][]byte{
		"start.sh":          startScript,
		"log4j2.properties": log4jConfig,
		"cluster.id":        []byte(clusterID + "\n"),
		"features":          []byte(fmt.Sprintf("transaction.version=%d\n", cfg.txnVersion)),
	}
	if p != nil {
		if !n.controllerOnly {
			security = securityProperties(cfg, p, n, dir)
		}
		files["broker.pem"] = p.brokerPEM
		files["ca.pem"] = p.caPEM
		files["scram"] = []byte(scramFormatArgs(p))
	}
	files["node.properties"] = []byte(nodeProperties(cfg, nodes, n, logDir, security))
	return files
}
