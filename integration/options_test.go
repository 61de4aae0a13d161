package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestValidateRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opt  Option
		want string
	}{
		{"two brokers", WithNodes(2), "WithNodes(1) or WithNodes(3)"},
		{"zero brokers", WithNodes(0), "WithNodes(1) or WithNodes(3)"},
		{"txn version 3", WithTransactionVersion(3), "use 1 or 2"},
		{"bad backend", WithBackend("vm"), "unknown backend"},
		{"no timeout", WithStartTimeout(0), "must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StartCluster(context.Background(), tc.opt)
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("err = %v, want ErrInvalidOption", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestProcessesBackendExplainsMissingJars(t *testing.T) {
	_, err := StartCluster(context.Background(), WithBackend(BackendProcesses), WithKafkaHome(t.TempDir()))
	if !errors.Is(err, ErrBackendUnavailable) {
		t.Fatalf("err = %v, want ErrBackendUnavailable", err)
	}
	if !strings.Contains(err.Error(), "make kafka") && !strings.Contains(err.Error(), "java") {
		t.Fatalf("err %q does not say how to fix it", err)
	}
}

func TestNodePropertiesThreeCombinedNodes(t *testing.T) {
	cfg := defaultConfig()
	cfg.brokers = 3
	cfg.brokerConfigs["log.segment.bytes"] = "1048576"
	nodes := []*node{
		{id: 1, brokerPort: 1001, controllerPort: 2001},
		{id: 2, brokerPort: 1002, controllerPort: 2002},
		{id: 3, brokerPort: 1003, controllerPort: 2003},
	}
	props := parseProps(nodeProperties(&cfg, nodes, nodes[1], "/data", nil))
	want := map[string]string{
		"process.roles":                    "broker,controller",
		"node.id":                          "2",
		"controller.quorum.voters":         "1@127.0.0.1:2001,2@127.0.0.1:2002,3@127.0.0.1:2003",
		"advertised.listeners":             "PLAINTEXT://127.0.0.1:1002",
		"listeners":                        "PLAINTEXT://127.0.0.1:1002,CONTROLLER://127.0.0.1:2002",
		"log.dirs":                         "/data",
		"offsets.topic.replication.factor": "3",
		"transaction.state.log.replication.factor": "3",
		"transaction.state.log.min.isr":            "2",
		"auto.create.topics.enable":                "false",
		"unclean.leader.election.enable":           "false",
		"log.segment.bytes":                        "1048576",
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("%s = %q, want %q", k, props[k], v)
		}
	}
}

func TestNodePropertiesDedicatedController(t *testing.T) {
	cfg := defaultConfig()
	cfg.brokers = 3
	cfg.dedicatedController = true
	ctrl := &node{id: ControllerNodeID, controllerOnly: true, controllerPort: 2100}
	nodes := []*node{ctrl,
		{id: 1, brokerPort: 1001, controllerPort: 2001},
		{id: 2, brokerPort: 1002, controllerPort: 2002},
		{id: 3, brokerPort: 1003, controllerPort: 2003},
	}
	c := parseProps(nodeProperties(&cfg, nodes, ctrl, "/d", nil))
	b := parseProps(nodeProperties(&cfg, nodes, nodes[1], "/d", nil))
	if c["process.roles"] != "controller" || b["process.roles"] != "broker" {
		t.Fatalf("roles: controller %q broker %q", c["process.roles"], b["process.roles"])
	}
	for _, p := range []map[string]string{c, b} {
		if p["controller.quorum.voters"] != "100@127.0.0.1:2100" {
			t.Fatalf("voters = %q, want only the dedicated controller", p["controller.quorum.voters"])
		}
	}
	if b["transaction.state.log.min.isr"] != "2" {
		t.Fatalf("broker min ISR for transaction log = %q, want 2 with three brokers", b["transaction.state.log.min.isr"])
	}
	if _, ok := c["advertised.listeners"]; ok {
		t.Fatal("a controller-only node must not advertise a broker listener")
	}
}

func TestNodeFilesCarryTransactionVersion(t *testing.T) {
	cfg := defaultConfig()
	cfg.txnVersion = 1
	n := &node{id: 1, brokerPort: 1, controllerPort: 2}
	files := nodeFiles(&cfg, []*node{n}, n, "abc", "/d", "/f", nil)
	if got := string(files["features"]); got != "transaction.version=1\n" {
		t.Fatalf("features = %q", got)
	}
	if got := string(files["cluster.id"]); got != "abc\n" {
		t.Fatalf("cluster.id = %q", got)
	}
	if len(files["start.sh"]) == 0 || len(files["log4j2.properties"]) == 0 {
		t.Fatal("start script or log config missing")
	}
}

func TestNewClusterIDIsKRaftShaped(t *testing.T) {
	a, b := newClusterID(), newClusterID()
	if len(a) != 22 || a == b {
		t.Fatalf("cluster IDs %q %q: want 22 characters, distinct", a, b)
	}
	// One ID in 64 would start with '-' if drawn naively; the storage tool
	// then fails with "--cluster-id expected one argument".
	for range 2000 {
		if id := newClusterID(); id[0] == '-' {
			t.Fatalf("cluster ID %q starts with '-'", id)
		}
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 8 distinct positive ports", ports)
		}
		seen[p] = true
	}
}

// Held ports stay bound until released: a proxy listening on port 0 or a
// second reservation meanwhile never gets one (CI: a fault proxy took a
// broker's port and the broker exited during start-up).
func TestHoldPortsKeepsThemBound(t *testing.T) {
	held, release, err := holdPorts(16)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range held {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			_ = l.Close()
			release()
			t.Fatalf("port %d was free while held", p)
		}
	}
	taken := map[int]bool{}
	for _, p := range held {
		taken[p] = true
	}
	for range 64 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if taken[p] {
			t.Fatalf("a listener on port 0 got held port %d", p)
		}
	}
	release()
	for _, p := range held[:1] {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d still bound after release: %v", p, err)
		}
		_ = l.Close()
	}
}

func parseProps(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[k] = v
	}
	return out
}

func TestUniqueNameIsLegalAndUnique(t *testing.T) {
	a, b := UniqueName(t, "in put/x"), UniqueName(t, "in put/x")
	if a == b {
		t.Fatalf("two names alike: %q", a)
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			t.Fatalf("name %q has %q, not legal in a Kafka topic name", a, r)
		}
	}
	if !strings.HasPrefix(a, "testuniquenameislegalandunique-in-put-x-") {
		t.Fatalf("name %q does not start with the test's name and what", a)
	}
}
