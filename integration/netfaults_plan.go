package integration

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// nodeNet is how a node is wired when the cluster has network faults.
type nodeNet struct {
	clientAddr string           // advertised on the client listener: its proxy
	peers      bySource         // listeners PEER_FROM_<source broker> here (a broker)
	voters     map[int32]string // controller ID → address this node dials for it
	ctrls      bySource         // listeners CTRL_FROM_<source node> here (a controller)
}

// bySource is a node's listeners of one kind, one per source node that
// reaches it: source → the listener's real port here and the address
// advertised on it (the proxy of the link from that source, or the port
// itself where the source is the node).
type bySource map[int32]inbound

// inbound is one per-source listener.
type inbound struct {
	port       int
	advertised string
}

// listen records source's listener on port, advertised as itself until a
// proxy takes it (advertise).
func (b bySource) listen(source int32, port int) {
	b[source] = inbound{port, fmt.Sprintf("127.0.0.1:%d", port)}
}

// upstream is where the proxy of the link from source forwards to.
func (b bySource) upstream(source int32) string { return fmt.Sprintf("127.0.0.1:%d", b[source].port) }

// advertise makes source's listener advertise addr (its link's proxy).
func (b bySource) advertise(source int32, addr string) {
	in := b[source]
	in.advertised = addr
	b[source] = in
}

// render appends the listeners, in source order, to the listeners and
// advertised.listeners entries, each named by name(source), and returns
// the sources.
func (b bySource) render(name func(int32) string, listeners, advertised *[]string) []int32 {
	sources := slices.Sorted(maps.Keys(b))
	for _, src := range sources {
		*listeners = append(*listeners, fmt.Sprintf("%s://127.0.0.1:%d", name(src), b[src].port))
		*advertised = append(*advertised, fmt.Sprintf("%s://%s", name(src), b[src].advertised))
	}
	return sources
}

// peerListener names the inter-broker listener that broker source uses to
// reach this node. Each broker has its own inter.broker.listener.name, so
// each directed broker pair can have its own proxy.
func peerListener(source int32) string { return fmt.Sprintf("PEER_FROM_%d", source) }

// ctrlListener names the controller listener that node source uses to reach
// this controller, for the same reason: a KRaft node learns the leader's
// address from the leader itself (BeginQuorumEpoch and Fetch answers carry
// the leader's advertised controller endpoints, KIP-853), under the name of
// the node's first controller.listener.names entry. With one CONTROLLER
// listener the leader's real port came back, and a node that had seen a
// KRaft election reached the new leader around its proxy (an Isolate then
// left its broker heartbeats flowing, so it was never fenced).
func ctrlListener(source int32) string { return fmt.Sprintf("CTRL_FROM_%d", source) }

// newNetwork reserves the inter-broker ports, starts one proxy per link and
// records on every node what its properties must say.
func newNetwork(nodes []*node, dedicated bool, logger *slog.Logger) (*Network, error) {
	var brokers []*node
	for _, n := range nodes {
		if !n.controllerOnly {
			brokers = append(brokers, n)
		}
	}
	var controllers []*node
	for _, n := range nodes {
		if n.controllerOnly || !dedicated {
			controllers = append(controllers, n)
		}
	}
	// Held while the proxies listen on port 0, released for the nodes: a
	// port per ordered broker pair, and per controller one for each other node.
	ports, release, err := holdPorts(len(brokers)*len(brokers) + len(controllers)*(len(nodes)-1))
	if err != nil {
		return nil, err
	}
	defer release()
	byID := map[int32]*node{}
	for _, n := range nodes {
		byID[n.id] = n
		n.net = &nodeNet{peers: bySource{}, voters: map[int32]string{}, ctrls: bySource{}}
	}
	for i, dst := range brokers {
		for j, src := range brokers {
			// A broker reaches itself directly (transaction markers to
			// its own partitions): that listener is never advertised as a proxy.
			dst.net.peers.listen(src.id, ports[i*len(brokers)+j])
		}
	}
	ports = ports[len(brokers)*len(brokers):]
	for _, c := range controllers {
		for _, src := range nodes {
			port := c.controllerPort // a node reaches its own controller directly
			if src.id != c.id {
				port, ports = ports[0], ports[1:]
			}
			c.net.ctrls.listen(src.id, port)
		}
		c.net.voters[c.id] = fmt.Sprintf("127.0.0.1:%d", c.controllerPort)
	}
	net := &Network{logger: logger}
	for _, n := range nodes {
		net.nodes = append(net.nodes, n.id)
	}
	slices.Sort(net.nodes)
	for _, l := range planLinks(nodes, dedicated) {
		dst := byID[l.To]
		switch l.Kind {
		case LinkClient:
			l.Upstream = dst.addr()
		case LinkBroker:
			l.Upstream = dst.net.peers.upstream(l.From)
		case LinkController:
			l.Upstream = dst.net.ctrls.upstream(l.From)
		}
		p, err := startProxy(l.Upstream)
		if err != nil {
			net.close()
			return nil, err
		}
		l.Listen = p.addr()
		net.links = append(net.links, &netLink{Link: l, p: p})
		switch l.Kind {
		case LinkClient:
			dst.net.clientAddr = l.Listen
		case LinkBroker:
			dst.net.peers.advertise(l.From, l.Listen)
		case LinkController:
			byID[l.From].net.voters[l.To] = l.Listen
			dst.net.ctrls.advertise(l.From, l.Listen)
		}
	}
	return net, nil
}

// applyNetProperties rewrites a node's listeners for network faults: clients
// get the client proxy in metadata, each other broker reaches this one on a
// listener of its own whose advertised address is that pair's proxy, each
// other node reaches this controller the same way, and
// controller.quorum.voters names, for each other controller, this node's
// proxy to it.
func applyNetProperties(cfg *config, n *node, p map[string]string) {
	nn := n.net
	var voters []string
	for _, id := range slices.Sorted(maps.Keys(nn.voters)) {
		voters = append(voters, fmt.Sprintf("%d@%s", id, nn.voters[id]))
	}
	p["controller.quorum.voters"] = strings.Join(voters, ",")
	var listeners, advertised, protocols []string
	if !n.controllerOnly {
		listeners = append(listeners, fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", n.brokerPort))
		advertised = append(advertised, "PLAINTEXT://"+nn.clientAddr)
		protocols = append(protocols, "PLAINTEXT:PLAINTEXT")
		for _, src := range nn.peers.render(peerListener, &listeners, &advertised) {
			protocols = append(protocols, peerListener(src)+":PLAINTEXT")
		}
		p["inter.broker.listener.name"] = peerListener(n.id)
	}
	// The first name is the one this node looks controllers up by.
	ctrlNames := []string{ctrlListener(n.id)}
	for _, src := range nn.ctrls.render(ctrlListener, &listeners, &advertised) {
		if src != n.id {
			ctrlNames = append(ctrlNames, ctrlListener(src))
		}
	}
	for _, name := range ctrlNames {
		protocols = append(protocols, name+":PLAINTEXT")
	}
	p["listeners"] = strings.Join(listeners, ",")
	p["advertised.listeners"] = strings.Join(advertised, ",")
	p["listener.security.protocol.map"] = strings.Join(protocols, ",")
	p["controller.listener.names"] = strings.Join(ctrlNames, ",")
}
