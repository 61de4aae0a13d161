package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// WithNetworkFaults routes every connection of the cluster through a
// fault-injecting proxy on 127.0.0.1 in this process: clients to each broker,
// each broker to each other broker, each node to each KRaft controller.
// Brokers advertise the proxies, so clients never reach a broker directly.
// Cluster.Network then cuts, partitions, slows and resets those links; see
// the package documentation for the mapping.
func WithNetworkFaults() Option { return func(c *config) { c.networkFaults = true } }

// Errors of the network fault methods.
var (
	// ErrNoNetworkFaults reports a network fault asked of a cluster started
	// without WithNetworkFaults.
	ErrNoNetworkFaults = errors.New("cluster was started without WithNetworkFaults")
	// ErrInvalidPartition reports groups that do not split the cluster's nodes
	// (see PartitionError).
	ErrInvalidPartition = errors.New("invalid network partition")
	// ErrInvalidFault reports a fault parameter out of range (a latency below
	// 1 ms, a rate or byte count below 1).
	ErrInvalidFault = errors.New("invalid network fault")
)

// PartitionError lists every problem of the groups given to Network.Partition.
// It matches ErrInvalidPartition, and also ErrUnknownNode when Unknown is set.
type PartitionError struct {
	Unknown     []int32 // IDs that are no node of the cluster
	Overlapping []int32 // IDs named more than once
	Empty       []int   // indexes of empty groups
	Groups      int     // number of groups, the nodes left out counting as one
}

func (e *PartitionError) Error() string {
	var p []string
	if len(e.Unknown) > 0 {
		p = append(p, fmt.Sprintf("unknown node IDs %v", e.Unknown))
	}
	if len(e.Overlapping) > 0 {
		p = append(p, fmt.Sprintf("node IDs %v in more than one group (or twice in one)", e.Overlapping))
	}
	if len(e.Empty) > 0 {
		p = append(p, fmt.Sprintf("groups %v are empty", e.Empty))
	}
	if e.Groups < 2 {
		p = append(p, fmt.Sprintf("%d group(s): a partition needs at least 2 (nodes not named form one more)", e.Groups))
	}
	return "integration: partition: " + strings.Join(p, "; ")
}

// Is matches ErrInvalidPartition, and ErrUnknownNode when an ID is unknown.
func (e *PartitionError) Is(target error) bool {
	return target == ErrInvalidPartition || target == ErrUnknownNode && len(e.Unknown) > 0
}

// LinkKind is what a link carries.
type LinkKind string

const (
	// LinkClient carries clients' connections to one broker (its client
	// listener, advertised in metadata).
	LinkClient LinkKind = "client"
	// LinkBroker carries one broker's connections to another broker (the
	// inter-broker listener): follower fetches (replication), transaction
	// markers, AddPartitionsToTxn verification.
	LinkBroker LinkKind = "broker"
	// LinkController carries one node's connections to one KRaft controller:
	// quorum votes and fetches between controllers, and a broker's
	// registration, heartbeats and metadata fetches.
	LinkController LinkKind = "controller"
)

// Link is one directed path through its own proxy.
type Link struct {
	Name     string   // "client:2", "broker:1->2", "controller:1->3"
	Kind     LinkKind //
	From     int32    // the node that dials; 0 for client links
	To       int32    // the node that listens
	Listen   string   // the proxy's address, which From dials
	Upstream string   // the node's real listener
}

// LinkStats is a link and what went through it since the cluster started.
type LinkStats struct {
	Link
	Connections   int64    // connections accepted
	Open          int64    // connections open now
	RequestBytes  int64    // bytes delivered From → To
	ResponseBytes int64    // bytes delivered To → From (replicated records flow here on broker links)
	Faults        []string // faults on now: cut, cut_answers, latency, bandwidth, reset_after
}

func linkName(kind LinkKind, from, to int32) string {
	if kind == LinkClient {
		return fmt.Sprintf("client:%d", to)
	}
	return fmt.Sprintf("%s:%d->%d", kind, from, to)
}

// planLinks lists the links of a cluster: a client link per broker, a broker
// link per ordered pair of brokers, a controller link from every node to
// every other controller. Sorted by name.
func planLinks(nodes []*node, dedicated bool) []Link {
	var out []Link
	isController := func(n *node) bool { return n.controllerOnly || !dedicated }
	for _, n := range nodes {
		if !n.controllerOnly {
			out = append(out, Link{Name: linkName(LinkClient, 0, n.id), Kind: LinkClient, To: n.id})
		}
		for _, o := range nodes {
			if o.id == n.id {
				continue
			}
			if !n.controllerOnly && !o.controllerOnly {
				out = append(out, Link{Name: linkName(LinkBroker, n.id, o.id), Kind: LinkBroker, From: n.id, To: o.id})
			}
			if isController(o) {
				out = append(out, Link{Name: linkName(LinkController, n.id, o.id), Kind: LinkController, From: n.id, To: o.id})
			}
		}
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// partitionPairs returns the unordered node pairs {a<b} that the groups
// separate. Nodes not in any group form one more group.
func partitionPairs(all []int32, groups [][]int32) ([][2]int32, error) {
	known := map[int32]bool{}
	for _, id := range all {
		known[id] = true
	}
	e := &PartitionError{}
	group := map[int32]int{}
	for i, g := range groups {
		if len(g) == 0 {
			e.Empty = append(e.Empty, i)
		}
		for _, id := range g {
			switch {
			case !known[id]:
				if !slices.Contains(e.Unknown, id) {
					e.Unknown = append(e.Unknown, id)
				}
			case group[id] != 0:
				if !slices.Contains(e.Overlapping, id) {
					e.Overlapping = append(e.Overlapping, id)
				}
			default:
				group[id] = i + 1
			}
		}
	}
	rest := len(groups) + 1
	e.Groups = len(groups)
	for _, id := range all {
		if group[id] == 0 {
			group[id] = rest
			e.Groups = len(groups) + 1
		}
	}
	if len(e.Unknown) > 0 || len(e.Overlapping) > 0 || len(e.Empty) > 0 || e.Groups < 2 {
		return nil, e
	}
	var pairs [][2]int32
	sorted := slices.Sorted(slices.Values(all))
	for i, a := range sorted {
		for _, b := range sorted[i+1:] {
			if group[a] != group[b] {
				pairs = append(pairs, [2]int32{a, b})
			}
		}
	}
	return pairs, nil
}

// Network injects faults into a cluster's links. Get it with
// Cluster.Network. Its methods are safe for concurrent use; each returns once
// the fault is in place on every open connection of the links it names (a
// connection that cannot take it within 2 s, because its receiver does not
// read, is closed) and on every new one. The methods of a nil Network (a
// cluster without WithNetworkFaults) return ErrNoNetworkFaults.
type Network struct {
	logger *slog.Logger
	nodes  []int32 // every node, controllers included
	links  []*netLink

	mu sync.Mutex // serialises fault changes
}

type netLink struct {
	Link
	p *proxy
}

// Network returns the cluster's fault-injecting network, or nil when the
// cluster was started without WithNetworkFaults (whose methods then return
// ErrNoNetworkFaults).
func (c *Cluster) Network() *Network { return c.net }

func (n *Network) check() error {
	if n == nil {
		return fmt.Errorf("integration: network fault: %w (start it with integration.WithNetworkFaults())", ErrNoNetworkFaults)
	}
	return nil
}

// begin checks that faults can be set now.
func (n *Network) begin(ctx context.Context) error {
	if err := n.check(); err != nil {
		return err
	}
	return ctx.Err()
}

func (n *Network) checkNodes(ids []int32) error {
	for _, id := range ids {
		if !slices.Contains(n.nodes, id) {
			return fmt.Errorf("integration: network fault: node %d (cluster has %v): %w", id, n.nodes, ErrUnknownNode)
		}
	}
	return nil
}

// change switches fault kind k to t (nil: off) on the links match selects,
// after checking the network and the node IDs the caller names.
func (n *Network) change(ctx context.Context, nodes []int32, what string, k faultKind, t toxics.Toxic, match func(Link) bool) error {
	if err := n.begin(ctx); err != nil {
		return err
	}
	if err := n.checkNodes(nodes); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var names []string
	for _, l := range n.links {
		if match(l.Link) {
			l.p.set(k, t)
			names = append(names, l.Name)
		}
	}
	n.logger.Info("network fault", "action", what, "links", names)
	return nil
}

func touches(ids []int32) func(Link) bool {
	return func(l Link) bool {
		return len(ids) == 0 || slices.Contains(ids, l.To) || l.Kind != LinkClient && slices.Contains(ids, l.From)
	}
}

// blackhole is toxiproxy's timeout toxic with timeout 0: data is dropped and
// connections stay open until the toxic is removed.
func blackhole() toxics.Toxic { return &toxics.TimeoutToxic{Timeout: 0} }

// Isolate cuts node id off from everything: clients, the other brokers and
// the controllers, in both directions. Connections stay open but carry
// nothing (as when packets are dropped); new connections are accepted by the
// proxy and carry nothing either. Heal undoes it.
func (n *Network) Isolate(ctx context.Context, id int32) error {
	return n.change(ctx, []int32{id}, fmt.Sprintf("isolate %d", id), faultCut, blackhole(), touches([]int32{id}))
}

// Partition splits the nodes into groups that cannot reach each other:
// broker and controller links between nodes of different groups are cut
// (as by Isolate); links inside a group and clients' links stay. Nodes named
// in no group form one more group, so Partition([]int32{1}) cuts node 1 from
// the others but not from clients. Invalid groups return a *PartitionError
// (ErrInvalidPartition) and change nothing. Heal undoes it.
func (n *Network) Partition(ctx context.Context, groups ...[]int32) error {
	return n.partition(ctx, "partition", groups, func(k LinkKind) bool { return k != LinkClient })
}

// PartitionBrokers splits the brokers into groups as Partition does, but
// cuts only the broker links between groups (replication, transaction
// markers), not the controller links: every node stays in the KRaft quorum
// and keeps heartbeating, so no broker is fenced and no leader moves; the
// leaders shrink their ISRs to their own group instead. A leader cut from
// both followers (PartitionBrokers([]int32{leader})) is left alone in its
// ISR after replica.lag.time.max.ms, and acks=all produce to it with
// min.insync.replicas=2 fails with NOT_ENOUGH_REPLICAS. Invalid groups
// return a *PartitionError (ErrInvalidPartition) and change nothing. Heal
// undoes it.
func (n *Network) PartitionBrokers(ctx context.Context, groups ...[]int32) error {
	return n.partition(ctx, "partition brokers", groups, func(k LinkKind) bool { return k == LinkBroker })
}

// partition cuts the links of the kinds cut between nodes the groups
// separate.
func (n *Network) partition(ctx context.Context, what string, groups [][]int32, cut func(LinkKind) bool) error {
	if err := n.check(); err != nil {
		return err
	}
	pairs, err := partitionPairs(n.nodes, groups)
	if err != nil {
		return err
	}
	return n.change(ctx, nil, fmt.Sprintf("%s %v", what, groups), faultCut, blackhole(), func(l Link) bool {
		a, b := min(l.From, l.To), max(l.From, l.To)
		return cut(l.Kind) && slices.Contains(pairs, [2]int32{a, b})
	})
}

// CutClients cuts the clients' links to the brokers ids (every broker when
// none is given): clients' requests to them go unanswered, while replication
// and the KRaft quorum go on. Heal undoes it.
func (n *Network) CutClients(ctx context.Context, ids ...int32) error {
	return n.change(ctx, ids, fmt.Sprintf("cut clients from %v", ids), faultCut, blackhole(), func(l Link) bool {
		return l.Kind == LinkClient && (len(ids) == 0 || slices.Contains(ids, l.To))
	})
}

// CutAnswers drops the brokers' answers to clients on the client links of
// the brokers ids (every broker when none is given), while clients' requests
// still reach them: a produce, a commit or an EndTxn is applied by the broker
// and the client never learns the outcome. Heal undoes it (and closes those
// connections).
func (n *Network) CutAnswers(ctx context.Context, ids ...int32) error {
	return n.change(ctx, ids, fmt.Sprintf("cut answers to clients from %v", ids), faultCutAnswers, blackhole(), func(l Link) bool {
		return l.Kind == LinkClient && (len(ids) == 0 || slices.Contains(ids, l.To))
	})
}

// Latency delays every chunk of data by d ± jitter (uniform), in each
// direction, on every link, or on the links to and from nodes when given: a
// request-response round trip grows by about 2·d. d and jitter are rounded
// down to milliseconds; d must be at least 1 ms and jitter at most d. A new
// Latency replaces the previous one on the links it names. Heal undoes it.
func (n *Network) Latency(ctx context.Context, d, jitter time.Duration, nodes ...int32) error {
	if d < time.Millisecond || jitter < 0 || jitter > d {
		return fmt.Errorf("integration: latency %v ± %v: want latency ≥ 1ms and 0 ≤ jitter ≤ latency: %w", d, jitter, ErrInvalidFault)
	}
	return n.change(ctx, nodes, fmt.Sprintf("latency %v±%v on %v", d, jitter, nodes), faultLatency,
		&toxics.LatencyToxic{Latency: d.Milliseconds(), Jitter: jitter.Milliseconds()}, touches(nodes))
}

// Bandwidth limits each connection of every link (or of the links to and
// from nodes) to kbPerSecond kilobytes per second in each direction. Heal
// undoes it.
func (n *Network) Bandwidth(ctx context.Context, kbPerSecond int64, nodes ...int32) error {
	if kbPerSecond < 1 {
		return fmt.Errorf("integration: bandwidth %d KB/s: want at least 1: %w", kbPerSecond, ErrInvalidFault)
	}
	return n.change(ctx, nodes, fmt.Sprintf("bandwidth %dKB/s on %v", kbPerSecond, nodes), faultBandwidth,
		&toxics.BandwidthToxic{Rate: kbPerSecond}, touches(nodes))
}

// ResetAfter closes each connection of every link (or of the links to and
// from nodes) once it has carried bytes bytes in one direction, counted from
// when the fault was set for open connections and from the start for new
// ones: the peers see the connection end mid-stream, as when a middlebox
// drops it. It keeps happening to every new connection until Heal.
func (n *Network) ResetAfter(ctx context.Context, bytes int64, nodes ...int32) error {
	if bytes < 1 {
		return fmt.Errorf("integration: reset after %d bytes: want at least 1: %w", bytes, ErrInvalidFault)
	}
	return n.change(ctx, nodes, fmt.Sprintf("reset after %d bytes on %v", bytes, nodes), faultResetAfter,
		&toxics.LimitDataToxic{Bytes: bytes}, touches(nodes))
}

// Heal removes every fault from every link. Connections that were cut are
// closed (the bytes dropped cannot be replayed); the others go on. It does
// not wait for the cluster to recover: call Cluster.WaitHealthy.
func (n *Network) Heal(ctx context.Context) error {
	if err := n.begin(ctx); err != nil {
		return err
	}
	for k := range numFaults {
		if err := n.change(ctx, nil, "heal "+k.String(), k, nil, func(Link) bool { return true }); err != nil {
			return err
		}
	}
	return nil
}

// Links returns every link with its counters and current faults, sorted by name.
func (n *Network) Links() []LinkStats {
	if n == nil {
		return nil
	}
	out := make([]LinkStats, 0, len(n.links))
	for _, l := range n.links {
		out = append(out, l.stats())
	}
	return out
}

// Link returns one link by name ("client:2", "broker:1->2", "controller:1->3").
func (n *Network) Link(name string) (LinkStats, error) {
	if err := n.check(); err != nil {
		return LinkStats{}, err
	}
	for _, l := range n.links {
		if l.Name == name {
			return l.stats(), nil
		}
	}
	return LinkStats{}, fmt.Errorf("integration: no link %q (see Network.Links): %w", name, ErrUnknownNode)
}

func (l *netLink) stats() LinkStats {
	return LinkStats{
		Link:          l.Link,
		Connections:   l.p.accepted.Load(),
		Open:          l.p.open.Load(),
		RequestBytes:  l.p.bytes[0].Load(),
		ResponseBytes: l.p.bytes[1].Load(),
		Faults:        l.p.active(),
	}
}

func (n *Network) close() {
	if n == nil {
		return
	}
	for _, l := range n.links {
		l.p.close()
	}
}
