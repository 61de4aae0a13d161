package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
)

// backend runs nodes. Methods are called with the cluster's lock held, one at a time.
type backend interface {
	kind() Backend
	// create prepares and starts a node for the first time.
	create(ctx context.Context, n *node, files map[string][]byte) error
	start(ctx context.Context, n *node) error
	stop(ctx context.Context, n *node) error // SIGTERM, wait, then SIGKILL
	kill(ctx context.Context, n *node) error // SIGKILL
	pause(ctx context.Context, n *node) error
	resume(ctx context.Context, n *node) error
	logs(ctx context.Context, n *node) ([]byte, error)
	// logDir is the node's data folder as the broker sees it.
	logDir(n *node) string
	// filesDir is the folder with the node's files as the broker sees it.
	filesDir(n *node) string
	close(ctx context.Context) error
	// exited reports whether a node's process or container has stopped running.
	exited(ctx context.Context, n *node) (bool, error)
}

// Cluster is a running Apache Kafka KRaft cluster of 1 or 3 combined nodes.
// Its methods are safe for concurrent use; fault methods on one node are
// serialised.
type Cluster struct {
	cfg     config
	be      backend
	nodes   []*node
	workDir string
	pki     *pki     // set with WithSASLSSL
	net     *Network // set with WithNetworkFaults

	mu     sync.Mutex
	closed bool
}

// StartCluster starts a cluster and waits until it is healthy (every broker
// registered, no under-replicated partition). On error, everything it started
// is removed. Cancelling ctx aborts the start.
func StartCluster(ctx context.Context, opts ...Option) (*Cluster, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	cfg.applyEnv()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Free ports are released before the brokers bind them; another process
	// may take one in between. Such a start is retried on new ports.
	for attempt := 1; ; attempt++ {
		c, err := startOnce(ctx, cfg)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == 3 {
			return c, err
		}
		cfg.logger.Warn("a broker port was taken; starting again on new ports", "attempt", attempt)
	}
}

var errPortTaken = errors.New("a broker port was taken by another process")

func startOnce(ctx context.Context, cfg config) (*Cluster, error) {
	be, err := chooseBackend(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	workDir, err := os.MkdirTemp("", "eoskit-cluster-")
	if err != nil {
		_ = be.close(ctx)
		return nil, fmt.Errorf("integration: create work folder: %w", err)
	}
	c := &Cluster{cfg: cfg, be: be, workDir: workDir}
	if cfg.secure {
		if c.pki, err = newPKI(); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("integration: generate certificates: %w", err)
		}
	}
	const perNode = 4
	// Held until the fault proxies listen: a proxy's port 0 must not land
	// on a broker's or controller's port (a node that cannot bind exits).
	ports, release, err := holdPorts(perNode * (cfg.brokers + 1))
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	if cfg.dedicatedController {
		c.nodes = append(c.nodes, &node{
			id:             ControllerNodeID,
			controllerOnly: true,
			controllerPort: ports[perNode*cfg.brokers],
			hostDir:        fmt.Sprintf("%s/node-%d", workDir, ControllerNodeID),
		})
	}
	for i := range cfg.brokers {
		c.nodes = append(c.nodes, &node{
			id:             int32(i + 1),
			brokerPort:     ports[perNode*i],
			controllerPort: ports[perNode*i+1],
			saslPort:       ports[perNode*i+2],
			mtlsPort:       ports[perNode*i+3],
			hostDir:        fmt.Sprintf("%s/node-%d", workDir, i+1),
		})
	}
	if cfg.networkFaults {
		if c.net, err = newNetwork(c.nodes, cfg.dedicatedController, cfg.logger); err != nil {
			release()
			_ = c.Close()
			return nil, err
		}
	}
	release()
	clusterID := newClusterID()
	began := time.Now()
	cfg.logger.Info("starting kafka cluster", "backend", be.kind(), "brokers", cfg.brokers,
		"kafka_version", cfg.kafkaVersion, "transaction_version", cfg.txnVersion)
	for _, n := range c.nodes {
		files := nodeFiles(&cfg, c.nodes, n, clusterID, be.logDir(n), be.filesDir(n), c.pki)
		if err := be.create(ctx, n, files); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("integration: start node %d: %w", n.id, err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.startTimeout)
	defer cancel()
	if err := c.waitHealthy(wctx, c.checkNodesRunning); err != nil {
		logs := c.LogTail(context.Background(), 60)
		_ = c.Close()
		if strings.Contains(logs, "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	cfg.logger.Info("kafka cluster healthy", "backend", be.kind(), "bootstrap", c.BootstrapString(),
		"took", time.Since(began).Round(time.Millisecond))
	return c, nil
}

// Backend reports which backend runs the cluster.
func (c *Cluster) Backend() Backend { return c.be.kind() }

// TransactionVersion reports the transaction.version the cluster was formatted with.
func (c *Cluster) TransactionVersion() int { return c.cfg.txnVersion }

// NodeIDs lists the broker node IDs (1..N). A dedicated controller
// (ControllerNodeID) is not a broker and is not listed, but the fault methods
// accept its ID.
func (c *Cluster) NodeIDs() []int32 {
	var ids []int32
	for _, n := range c.brokerNodes() {
		ids = append(ids, n.id)
	}
	return ids
}

func (c *Cluster) brokerNodes() []*node {
	var bs []*node
	for _, n := range c.nodes {
		if !n.controllerOnly {
			bs = append(bs, n)
		}
	}
	return bs
}

// Bootstrap returns the brokers' addresses, reachable from the host (with
// WithNetworkFaults, their client proxies).
func (c *Cluster) Bootstrap() []string {
	var addrs []string
	for _, n := range c.brokerNodes() {
		addrs = append(addrs, n.clientAddr())
	}
	return addrs
}

// Conn returns the connection to the cluster's plaintext listeners, for
// every eoskit constructor (producer.New(c.Conn()), txn.New(c.Conn(), ...)).
// A secured cluster's listeners are reached with SASLBootstrap or
// MTLSBootstrap and TLSConfig.
func (c *Cluster) Conn() eoskit.Conn { return eoskit.Conn{Brokers: c.Bootstrap()} }

// BootstrapString returns Bootstrap joined with commas.
func (c *Cluster) BootstrapString() string { return strings.Join(c.Bootstrap(), ",") }

// BrokerAddr returns the address clients use for one node (with
// WithNetworkFaults, its client proxy).
func (c *Cluster) BrokerAddr(id int32) (string, error) {
	n, err := c.node(id)
	if err != nil {
		return "", err
	}
	return n.clientAddr(), nil
}

// NewClient returns a franz-go client seeded with the cluster's brokers; opts
// are applied after the seeds. The caller closes it.
func (c *Cluster) NewClient(opts ...kgo.Opt) (*kgo.Client, error) {
	all := append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, opts...)
	return kgo.NewClient(all...)
}

func (c *Cluster) node(id int32) (*node, error) {
	for _, n := range c.nodes {
		if n.id == id {
			return n, nil
		}
	}
	return nil, fmt.Errorf("integration: node %d (cluster has %v): %w", id, c.NodeIDs(), ErrUnknownNode)
}

func (c *Cluster) fault(ctx context.Context, what string, id int32, f func(context.Context, *node) error) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("integration: %s node %d: cluster is closed", what, id)
	}
	c.cfg.logger.Info("broker fault", "action", what, "node", id)
	if err := f(ctx, n); err != nil {
		return fmt.Errorf("integration: %s node %d: %w", what, id, err)
	}
	return nil
}

// Stop stops a node cleanly (SIGTERM; SIGKILL after 30 s). Its data is kept.
func (c *Cluster) Stop(ctx context.Context, id int32) error {
	return c.fault(ctx, "stop", id, c.be.stop)
}

// Kill stops a node at once with SIGKILL. Its data is kept.
func (c *Cluster) Kill(ctx context.Context, id int32) error {
	return c.fault(ctx, "kill", id, c.be.kill)
}

// Start starts a stopped or killed node again, on the same ports and data. It
// does not wait for the node to rejoin: use WaitHealthy.
func (c *Cluster) Start(ctx context.Context, id int32) error {
	return c.fault(ctx, "start", id, c.be.start)
}

// Restart stops a node cleanly and starts it again; it does not wait for health.
func (c *Cluster) Restart(ctx context.Context, id int32) error {
	return c.fault(ctx, "restart", id, func(ctx context.Context, n *node) error {
		if err := c.be.stop(ctx, n); err != nil {
			return err
		}
		return c.be.start(ctx, n)
	})
}

// Pause freezes a node (SIGSTOP, or the container freezer): it keeps its
// sockets open but answers nothing, as a hung or partitioned broker would.
func (c *Cluster) Pause(ctx context.Context, id int32) error {
	return c.fault(ctx, "pause", id, c.be.pause)
}

// Resume thaws a paused node.
func (c *Cluster) Resume(ctx context.Context, id int32) error {
	return c.fault(ctx, "resume", id, c.be.resume)
}

// Health describes the cluster as its brokers report it. Every broker is
// asked for its own view, so a broker that was frozen and still serves stale
// metadata does not make the cluster look healthy.
type Health struct {
	Brokers           []int32  // brokers every answering broker sees registered
	Unreachable       []int32  // broker nodes that did not answer
	UnderReplicated   []string // "topic/partition" whose ISR is smaller than its replicas in some view
	OfflinePartitions []string // "topic/partition" without a leader in some view
}

func (h Health) healthy(want int) bool {
	return len(h.Brokers) == want && len(h.Unreachable) == 0 &&
		len(h.UnderReplicated) == 0 && len(h.OfflinePartitions) == 0
}

// CheckHealth asks every broker once for its metadata and merges the views.
// It returns an error only if no broker answers.
func (c *Cluster) CheckHealth(ctx context.Context) (Health, error) {
	var (
		h       Health
		seen    map[int32]int
		under   = map[string]bool{}
		offline = map[string]bool{}
		answers int
		lastErr error
	)
	seen = map[int32]int{}
	for _, n := range c.brokerNodes() {
		resp, err := brokerMetadata(ctx, n.addr())
		if err != nil {
			h.Unreachable = append(h.Unreachable, n.id)
			lastErr = err
			continue
		}
		answers++
		for _, b := range resp.Brokers {
			seen[b.NodeID]++
		}
		for _, t := range resp.Topics {
			topic := ""
			if t.Topic != nil {
				topic = *t.Topic
			}
			for _, p := range t.Partitions {
				name := fmt.Sprintf("%s/%d", topic, p.Partition)
				if p.Leader < 0 {
					offline[name] = true
				}
				if len(p.ISR) < len(p.Replicas) {
					under[name] = true
				}
			}
		}
	}
	if answers == 0 {
		return h, fmt.Errorf("integration: no broker answered a metadata request: %w", lastErr)
	}
	for id, k := range seen {
		if k == answers {
			h.Brokers = append(h.Brokers, id)
		}
	}
	slices.Sort(h.Brokers)
	h.UnderReplicated = sortedKeys(under)
	h.OfflinePartitions = sortedKeys(offline)
	return h, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// brokerMetadata sends one metadata request (all topics) to exactly the broker at addr.
func brokerMetadata(ctx context.Context, addr string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0),
		kgo.DialTimeout(2*time.Second), kgo.RequestTimeoutOverhead(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, fmt.Errorf("no seed broker for %s", addr)
	}
	rctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	return kmsg.NewPtrMetadataRequest().RequestWith(rctx, seeds[0])
}

// WaitHealthy waits until every node is registered with the controller and no
// partition (internal topics included) is under-replicated or offline. It
// returns an error wrapping ErrNotHealthy with the last state seen when ctx ends.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return c.waitHealthy(ctx, nil)
}

// checkNodesRunning fails when a node has exited, so a broker that cannot
// start (a port taken, a bad config) fails StartCluster at once.
func (c *Cluster) checkNodesRunning(ctx context.Context) error {
	for _, n := range c.nodes {
		if gone, err := c.be.exited(ctx, n); err == nil && gone {
			return fmt.Errorf("integration: node %d exited during start-up (see its log below)", n.id)
		}
	}
	return nil
}

func (c *Cluster) waitHealthy(ctx context.Context, precheck func(context.Context) error) error {
	var last string
	for {
		if precheck != nil {
			if err := precheck(ctx); err != nil {
				return err
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h, err := c.CheckHealth(cctx)
		cancel()
		if err == nil && h.healthy(len(c.brokerNodes())) {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("brokers %v of %d registered, unreachable %v, under-replicated %v, offline %v",
				h.Brokers, len(c.brokerNodes()), h.Unreachable, h.UnderReplicated, h.OfflinePartitions)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("integration: %w after waiting: %s (%w)", ErrNotHealthy, last, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Logs returns everything a node has printed, across restarts.
func (c *Cluster) Logs(ctx context.Context, id int32) ([]byte, error) {
	n, err := c.node(id)
	if err != nil {
		return nil, err
	}
	return c.be.logs(ctx, n)
}

// LogTail returns the last lines of every node's log, labelled, for test failures.
func (c *Cluster) LogTail(ctx context.Context, lines int) string {
	var b strings.Builder
	for _, n := range c.nodes {
		out, err := c.be.logs(ctx, n)
		fmt.Fprintf(&b, "----- kafka node %d (broker port %d, controller port %d) last %d lines -----\n", n.id, n.brokerPort, n.controllerPort, lines)
		if err != nil {
			fmt.Fprintf(&b, "(logs unavailable: %v)\n", err)
			continue
		}
		all := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		b.WriteString(strings.Join(all, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// Close stops every node and removes what the cluster created (containers,
// folders). It is safe to call more than once.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if err := c.be.close(ctx); err != nil {
		errs = append(errs, err)
	}
	c.net.close()
	if c.workDir != "" {
		if err := os.RemoveAll(c.workDir); err != nil {
			errs = append(errs, err)
		}
	}
	c.cfg.logger.Info("kafka cluster closed", "backend", c.be.kind())
	return errors.Join(errs...)
}
