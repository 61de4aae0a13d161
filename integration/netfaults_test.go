package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func threeNodes(dedicated bool) []*node {
	ns := []*node{{id: 1, brokerPort: 1001, controllerPort: 1101}, {id: 2, brokerPort: 1002, controllerPort: 1102}, {id: 3, brokerPort: 1003, controllerPort: 1103}}
	if dedicated {
		ns = append([]*node{{id: ControllerNodeID, controllerOnly: true, controllerPort: 1200}}, ns...)
	}
	return ns
}

func linkNames(ls []Link) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out
}

func TestPlanLinks(t *testing.T) {
	got := linkNames(planLinks(threeNodes(false), false))
	want := []string{
		"broker:1->2", "broker:1->3", "broker:2->1", "broker:2->3", "broker:3->1", "broker:3->2",
		"client:1", "client:2", "client:3",
		"controller:1->2", "controller:1->3", "controller:2->1", "controller:2->3", "controller:3->1", "controller:3->2",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("combined nodes: links\n%v\nwant\n%v", got, want)
	}
	got = linkNames(planLinks(threeNodes(true), true))
	want = []string{
		"broker:1->2", "broker:1->3", "broker:2->1", "broker:2->3", "broker:3->1", "broker:3->2",
		"client:1", "client:2", "client:3",
		"controller:1->100", "controller:2->100", "controller:3->100",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dedicated controller: links\n%v\nwant\n%v", got, want)
	}
	if got := linkNames(planLinks([]*node{{id: 1}}, false)); !slices.Equal(got, []string{"client:1"}) {
		t.Fatalf("one node: links %v, want only client:1", got)
	}
}

func TestPartitionPairs(t *testing.T) {
	all := []int32{1, 2, 3}
	for _, tc := range []struct {
		name   string
		groups [][]int32
		want   [][2]int32
	}{
		{"one against two", [][]int32{{1}, {2, 3}}, [][2]int32{{1, 2}, {1, 3}}},
		{"rest forms a group", [][]int32{{1}}, [][2]int32{{1, 2}, {1, 3}}},
		{"three groups", [][]int32{{3}, {1}, {2}}, [][2]int32{{1, 2}, {1, 3}, {2, 3}}},
		{"two named, rest", [][]int32{{2}, {3}}, [][2]int32{{1, 2}, {1, 3}, {2, 3}}},
	} {
		got, err := partitionPairs(all, tc.groups)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: pairs %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name        string
		groups      [][]int32
		unknown     bool
		overlapping []int32
		empty       []int
	}{
		{"unknown ID", [][]int32{{1}, {7, 2}}, true, nil, nil},
		{"overlapping", [][]int32{{1, 2}, {2, 3}}, false, []int32{2}, nil},
		{"twice in one group", [][]int32{{1, 1}, {2, 3}}, false, []int32{1}, nil},
		{"empty group", [][]int32{{1}, {}, {2, 3}}, false, nil, []int{1}},
		{"one group of all", [][]int32{{1, 2, 3}}, false, nil, nil},
		{"no group", nil, false, nil, nil},
		{"every problem at once", [][]int32{{9, 1}, {1}, {}}, true, []int32{1}, []int{2}},
	} {
		_, err := partitionPairs(all, tc.groups)
		var pe *PartitionError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPartition) {
			t.Errorf("%s: error %v, want a *PartitionError matching ErrInvalidPartition", tc.name, err)
			continue
		}
		if errors.Is(err, ErrUnknownNode) != tc.unknown {
			t.Errorf("%s: errors.Is(ErrUnknownNode) = %v, want %v (%v)", tc.name, !tc.unknown, tc.unknown, err)
		}
		if !slices.Equal(pe.Overlapping, tc.overlapping) || !slices.Equal(pe.Empty, tc.empty) {
			t.Errorf("%s: overlapping %v empty %v, want %v %v", tc.name, pe.Overlapping, pe.Empty, tc.overlapping, tc.empty)
		}
	}
	_, err := partitionPairs(all, [][]int32{{9, 1}, {1}, {}})
	for _, part := range []string{"unknown node IDs [9]", "[1] in more than one group", "groups [2] are empty"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
}

// echoServer echoes every connection until closed.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(c, c)
				_ = c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// fakeNetwork is a Network over echo servers, one per link of a 3-node cluster.
func fakeNetwork(t *testing.T) *Network {
	t.Helper()
	n := &Network{logger: slog.New(slog.DiscardHandler), nodes: []int32{1, 2, 3}}
	for _, l := range planLinks(threeNodes(false), false) {
		l.Upstream = echoServer(t)
		p, err := startProxy(l.Upstream)
		if err != nil {
			t.Fatal(err)
		}
		l.Listen = p.addr()
		n.links = append(n.links, &netLink{Link: l, p: p})
	}
	t.Cleanup(n.close)
	return n
}

func dial(t *testing.T, n *Network, link string) net.Conn {
	t.Helper()
	l, err := n.Link(link)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.Listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads it back within d; it returns the error of
// the read (a timeout when nothing came back).
func roundTrip(c net.Conn, msg string, d time.Duration) (string, error) {
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, len(msg))
	k, err := io.ReadFull(c, buf)
	return string(buf[:k]), err
}

func faulted(n *Network, fault string) []string {
	var out []string
	for _, l := range n.Links() {
		if slices.Contains(l.Faults, fault) {
			out = append(out, l.Name)
		}
	}
	return out
}

func TestNetworkIsolateCutsEveryLinkOfANode(t *testing.T) {
	n := fakeNetwork(t)
	ctx := context.Background()
	open := dial(t, n, "broker:1->2")
	if got, err := roundTrip(open, "before", time.Second); err != nil || got != "before" {
		t.Fatalf("before the cut: %q %v", got, err)
	}
	if err := n.Isolate(ctx, 2); err != nil {
		t.Fatal(err)
	}
	want := []string{"broker:1->2", "broker:2->1", "broker:2->3", "broker:3->2", "client:2",
		"controller:1->2", "controller:2->1", "controller:2->3", "controller:3->2"}
	if got := faulted(n, "cut"); !slices.Equal(got, want) {
		t.Fatalf("links cut by Isolate(2): %v, want %v", got, want)
	}
	// The open connection and a new one both carry nothing; an unrelated link works.
	if _, err := roundTrip(open, "during", 300*time.Millisecond); !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		t.Fatalf("open connection through a cut link: %v, want a timeout", err)
	}
	if _, err := roundTrip(dial(t, n, "client:2"), "new", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("new connection through a cut link: %v, want a timeout", err)
	}
	if got, err := roundTrip(dial(t, n, "broker:1->3"), "other", time.Second); err != nil || got != "other" {
		t.Fatalf("uncut link 1->3: %q %v", got, err)
	}
	st, _ := n.Link("broker:1->2")
	if st.RequestBytes != int64(len("before")) || st.Connections != 1 {
		t.Fatalf("broker:1->2 delivered %d bytes over %d connections, want 6 over 1 (the cut dropped the rest)", st.RequestBytes, st.Connections)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if got := faulted(n, "cut"); len(got) != 0 {
		t.Fatalf("links still cut after Heal: %v", got)
	}
	// A connection that was cut is closed by Heal; a new one works.
	_ = open.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := open.Read(make([]byte, 16)); err == nil || isTimeout(err) {
		t.Fatalf("connection cut then healed: read %v, want it closed", err)
	}
	if got, err := roundTrip(dial(t, n, "broker:1->2"), "after", time.Second); err != nil || got != "after" {
		t.Fatalf("after Heal: %q %v", got, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestNetworkPartitionAndCutClients(t *testing.T) {
	n := fakeNetwork(t)
	ctx := context.Background()
	if err := n.Partition(ctx, []int32{1}, []int32{2, 3}); err != nil {
		t.Fatal(err)
	}
	want := []string{"broker:1->2", "broker:1->3", "broker:2->1", "broker:3->1",
		"controller:1->2", "controller:1->3", "controller:2->1", "controller:3->1"}
	if got := faulted(n, "cut"); !slices.Equal(got, want) {
		t.Fatalf("links cut by Partition({1},{2,3}): %v, want %v", got, want)
	}
	if err := n.Partition(ctx, []int32{1, 2}, []int32{2, 3}); !errors.Is(err, ErrInvalidPartition) {
		t.Fatalf("overlapping groups: %v, want ErrInvalidPartition", err)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	// PartitionBrokers cuts replication only: node 2 keeps its controller links.
	if err := n.PartitionBrokers(ctx, []int32{2}); err != nil {
		t.Fatal(err)
	}
	if got, want := faulted(n, "cut"), []string{"broker:1->2", "broker:2->1", "broker:2->3", "broker:3->2"}; !slices.Equal(got, want) {
		t.Fatalf("links cut by PartitionBrokers({2}): %v, want %v", got, want)
	}
	if got, err := roundTrip(dial(t, n, "controller:2->1"), "quorum", time.Second); err != nil || got != "quorum" {
		t.Fatalf("controller:2->1 during PartitionBrokers({2}): %q %v, want it carried", got, err)
	}
	if _, err := roundTrip(dial(t, n, "broker:3->2"), "fetch", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("broker:3->2 during PartitionBrokers({2}): %v, want a timeout", err)
	}
	if err := n.PartitionBrokers(ctx, []int32{1, 2, 3}); !errors.Is(err, ErrInvalidPartition) {
		t.Fatalf("PartitionBrokers with one group: %v, want ErrInvalidPartition", err)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.CutClients(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if got := faulted(n, "cut"); !slices.Equal(got, []string{"client:3"}) {
		t.Fatalf("links cut by CutClients(3): %v", got)
	}
	if err := n.CutClients(ctx); err != nil {
		t.Fatal(err)
	}
	if got := faulted(n, "cut"); !slices.Equal(got, []string{"client:1", "client:2", "client:3"}) {
		t.Fatalf("links cut by CutClients(): %v", got)
	}
	if err := n.CutClients(ctx, 4); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("CutClients(4): %v, want ErrUnknownNode", err)
	}
}

func TestNetworkCutAnswers(t *testing.T) {
	n := fakeNetwork(t)
	ctx := context.Background()
	c := dial(t, n, "client:1")
	if got, err := roundTrip(c, "ok", time.Second); err != nil || got != "ok" {
		t.Fatalf("before: %q %v", got, err)
	}
	if err := n.CutAnswers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := faulted(n, "cut_answers"); !slices.Equal(got, []string{"client:1"}) {
		t.Fatalf("links with answers cut: %v, want client:1", got)
	}
	// The request reaches the server (which echoes it); the answer is dropped.
	if _, err := roundTrip(c, "lost", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("round trip with answers cut: %v, want a timeout", err)
	}
	st, _ := n.Link("client:1")
	if st.RequestBytes != int64(len("ok")+len("lost")) || st.ResponseBytes != int64(len("ok")) {
		t.Fatalf("client:1 delivered %d request and %d answer bytes, want 6 and 2", st.RequestBytes, st.ResponseBytes)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 16)); err == nil || isTimeout(err) {
		t.Fatalf("connection whose answers were cut, after Heal: read %v, want it closed", err)
	}
	if got, err := roundTrip(dial(t, n, "client:1"), "after", time.Second); err != nil || got != "after" {
		t.Fatalf("after Heal: %q %v", got, err)
	}
}

func TestNetworkLatency(t *testing.T) {
	n := fakeNetwork(t)
	ctx := context.Background()
	c := dial(t, n, "client:1")
	const d = 100 * time.Millisecond
	if err := n.Latency(ctx, d, 0, 1); err != nil {
		t.Fatal(err)
	}
	if got := faulted(n, "latency"); len(got) != 9 || !slices.Contains(got, "client:1") || slices.Contains(got, "broker:2->3") {
		t.Fatalf("links slowed by Latency(node 1): %v, want the 9 links to and from node 1", got)
	}
	began := time.Now()
	if got, err := roundTrip(c, "slow", 5*time.Second); err != nil || got != "slow" {
		t.Fatalf("round trip with latency: %q %v", got, err)
	}
	if rtt := time.Since(began); rtt < 2*d {
		t.Fatalf("round trip took %v with %v latency each way, want at least %v", rtt, d, 2*d)
	}
	for _, bad := range [][2]time.Duration{{0, 0}, {time.Millisecond, 2 * time.Millisecond}, {time.Second, -1}} {
		if err := n.Latency(ctx, bad[0], bad[1]); !errors.Is(err, ErrInvalidFault) {
			t.Errorf("Latency(%v, %v): %v, want ErrInvalidFault", bad[0], bad[1], err)
		}
	}
}

func TestNetworkResetAfter(t *testing.T) {
	n := fakeNetwork(t)
	ctx := context.Background()
	if err := n.ResetAfter(ctx, 10); err != nil {
		t.Fatal(err)
	}
	c := dial(t, n, "client:2")
	got, err := roundTrip(c, strings.Repeat("x", 64), 2*time.Second)
	if err == nil || isTimeout(err) || len(got) > 10 {
		t.Fatalf("64 bytes through a link reset after 10: read %d bytes, %v; want the connection closed after at most 10", len(got), err)
	}
	if err := n.ResetAfter(ctx, 0); !errors.Is(err, ErrInvalidFault) {
		t.Fatalf("ResetAfter(0): %v, want ErrInvalidFault", err)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	msg := strings.Repeat("y", 64)
	if got, err := roundTrip(dial(t, n, "client:2"), msg, 2*time.Second); err != nil || got != msg {
		t.Fatalf("after Heal: %d bytes, %v", len(got), err)
	}
}

func TestNetworkBandwidth(t *testing.T) {
	n := fakeNetwork(t)
	ctx := context.Background()
	if err := n.Bandwidth(ctx, 10, 3); err != nil { // 10 KB/s
		t.Fatal(err)
	}
	msg := strings.Repeat("z", 5000)
	began := time.Now()
	if got, err := roundTrip(dial(t, n, "client:3"), msg, 10*time.Second); err != nil || got != msg {
		t.Fatalf("through a 10 KB/s link: %d bytes, %v", len(got), err)
	}
	if took := time.Since(began); took < 400*time.Millisecond {
		t.Fatalf("5000 bytes each way through a 10 KB/s link took %v, want at least 400ms", took)
	}
	if err := n.Bandwidth(ctx, 0); !errors.Is(err, ErrInvalidFault) {
		t.Fatalf("Bandwidth(0): %v, want ErrInvalidFault", err)
	}
}

func TestNetworkWithoutFaults(t *testing.T) {
	var n *Network
	ctx := context.Background()
	for name, err := range map[string]error{
		"Isolate":    n.Isolate(ctx, 1),
		"Partition":  n.Partition(ctx, []int32{1}),
		"CutClients": n.CutClients(ctx),
		"CutAnswers": n.CutAnswers(ctx),
		"Latency":    n.Latency(ctx, time.Second, 0),
		"Bandwidth":  n.Bandwidth(ctx, 1),
		"ResetAfter": n.ResetAfter(ctx, 1),
		"Heal":       n.Heal(ctx),
	} {
		if !errors.Is(err, ErrNoNetworkFaults) {
			t.Errorf("%s on a cluster without network faults: %v, want ErrNoNetworkFaults", name, err)
		}
	}
	if n.Links() != nil {
		t.Error("Links of a nil Network is not nil")
	}
}

func TestWithNetworkFaultsValidation(t *testing.T) {
	cfg := defaultConfig()
	for _, o := range []Option{WithNetworkFaults(), WithSASLSSL()} {
		o(&cfg)
	}
	if err := cfg.validate(); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("WithNetworkFaults with WithSASLSSL: %v, want ErrInvalidOption", err)
	}
}

func TestNetworkHandler(t *testing.T) {
	n := fakeNetwork(t)
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		path, body string
		status     int
		cut        []string
	}{
		{"/isolate/3", "", 200, []string{"broker:1->3", "broker:2->3", "broker:3->1", "broker:3->2", "client:3",
			"controller:1->3", "controller:2->3", "controller:3->1", "controller:3->2"}},
		{"/heal", "", 200, nil},
		{"/partition", `{"groups":[[1,2],[3]]}`, 200, []string{"broker:1->3", "broker:2->3", "broker:3->1", "broker:3->2",
			"controller:1->3", "controller:2->3", "controller:3->1", "controller:3->2"}},
		{"/heal", "", 200, nil},
		{"/partition-brokers", `{"groups":[[3]]}`, 200, []string{"broker:1->3", "broker:2->3", "broker:3->1", "broker:3->2"}},
		{"/partition-brokers", `{"groups":[[3],[3]]}`, 400, nil},
		{"/heal", "", 200, nil},
		{"/cut-clients/1", "", 200, []string{"client:1"}},
		{"/cut-clients", "", 200, []string{"client:1", "client:2", "client:3"}},
		{"/heal", "", 200, nil},
		{"/cut-answers/2", "", 200, nil},
		{"/isolate/9", "", 400, nil},
		{"/isolate/x", "", 400, nil},
		{"/partition", `{"groups":[[1],[1]]}`, 400, nil},
		{"/partition", `[1]`, 400, nil},
		{"/latency?ms=0", "", 400, nil},
		{"/latency?ms=50&jitter=10&nodes=2", "", 200, nil},
		{"/bandwidth?kbps=100", "", 200, nil},
		{"/reset-after?bytes=x", "", 400, nil},
		{"/reset-after?bytes=1000000&nodes=1,3", "", 200, nil},
	} {
		status, body := post(tc.path, tc.body)
		if status != tc.status {
			t.Fatalf("POST %s %s: status %d (%s), want %d", tc.path, tc.body, status, body, tc.status)
		}
		if status == 200 {
			if got := faulted(n, "cut"); !slices.Equal(got, tc.cut) {
				t.Fatalf("after POST %s: cut %v, want %v", tc.path, got, tc.cut)
			}
		} else if !strings.Contains(body, `"error"`) {
			t.Fatalf("POST %s: body %s has no error", tc.path, body)
		}
	}
	if got := faulted(n, "cut_answers"); !slices.Equal(got, []string{"client:2"}) {
		t.Fatalf("answers cut on %v, want client:2 (heal had not run since)", got)
	}
	if got := faulted(n, "latency"); len(got) != 9 {
		t.Fatalf("latency on %v, want the 9 links of node 2", got)
	}
	resp, err := http.Get(srv.URL + "/links")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var links []LinkStats
	if err := json.NewDecoder(resp.Body).Decode(&links); err != nil || len(links) != 15 {
		t.Fatalf("GET /links: %d links, %v; want 15", len(links), err)
	}
	if !slices.Equal(links[0].Faults, []string{"latency", "bandwidth", "reset_after"}) || links[0].Name != "broker:1->2" {
		t.Fatalf("GET /links: first %+v", links[0])
	}
	if _, err := n.Serve(context.Background(), "0.0.0.0:0"); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Serve on a non-loopback address: %v, want ErrInvalidOption", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	url, err := n.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := http.Post(url+"/heal", "", bytes.NewReader(nil))
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("POST %s/heal: %v %v", url, r2, err)
	}
	r2.Body.Close()
	cancel()
}

// listenerAddrs parses a listeners or advertised.listeners value into
// name → host:port.
func listenerAddrs(t *testing.T, v string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(v, ",") {
		name, addr, ok := strings.Cut(l, "://")
		if !ok {
			t.Fatalf("listener %q has no name://address form", l)
		}
		out[name] = addr
	}
	return out
}

func parseProperties(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

// TestNetworkPropertiesAdvertiseProxies checks what every node says about
// its controller and inter-broker listeners: a KRaft node looks the leader up by
// its first controller.listener.names entry in the endpoints the leader
// advertises, so under that name each controller must advertise the proxy
// of the link from that node, and listen there on the proxy's upstream.
func TestNetworkPropertiesAdvertiseProxies(t *testing.T) {
	for _, dedicated := range []bool{false, true} {
		cfg := &config{dedicatedController: dedicated}
		nodes := threeNodes(dedicated)
		n, err := newNetwork(nodes, dedicated, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer n.close()
		props := map[int32]map[string]string{}
		for _, nd := range nodes {
			props[nd.id] = parseProperties(nodeProperties(cfg, nodes, nd, "/data", nil))
		}
		// Each node reaches a controller, and each broker another broker,
		// on a listener of its own there, advertised as that link's proxy.
		kinds := map[LinkKind]int{}
		for _, ls := range n.Links() {
			l := ls.Link
			kinds[l.Kind]++
			switch l.Kind {
			case LinkController:
				name := fmt.Sprintf("CTRL_FROM_%d", l.From)
				if first, _, _ := strings.Cut(props[l.From]["controller.listener.names"], ","); first != name {
					t.Errorf("dedicated=%v: node %d looks controllers up by %q, want %q", dedicated, l.From, first, name)
				}
				to := props[l.To]
				checkLinkListener(t, fmt.Sprintf("dedicated=%v: controller %d", dedicated, l.To), to, name, l)
				if !strings.Contains(to["controller.listener.names"], name) {
					t.Errorf("dedicated=%v: controller %d does not declare %s as a controller listener: %v", dedicated, l.To, name, to)
				}
				if !strings.Contains(props[l.From]["controller.quorum.voters"], fmt.Sprintf("%d@%s", l.To, l.Listen)) {
					t.Errorf("dedicated=%v: node %d's voters %q do not name the proxy %s", dedicated, l.From, props[l.From]["controller.quorum.voters"], l.Listen)
				}
			case LinkBroker:
				name := fmt.Sprintf("PEER_FROM_%d", l.From)
				if got := props[l.From]["inter.broker.listener.name"]; got != name {
					t.Errorf("dedicated=%v: broker %d's inter-broker listener %q, want %q", dedicated, l.From, got, name)
				}
				checkLinkListener(t, fmt.Sprintf("dedicated=%v: broker %d", dedicated, l.To), props[l.To], name, l)
			}
		}
		if want := map[bool]int{false: 6, true: 3}[dedicated]; kinds[LinkController] != want || kinds[LinkBroker] != 6 {
			t.Fatalf("dedicated=%v: %d controller and %d broker links, want %d and 6", dedicated, kinds[LinkController], kinds[LinkBroker], want)
		}
		// A broker reaches itself directly: its own listener advertises
		// the port it listens on.
		for _, nd := range nodes {
			if nd.controllerOnly {
				continue
			}
			name := fmt.Sprintf("PEER_FROM_%d", nd.id)
			p := props[nd.id]
			if l, a := listenerAddrs(t, p["listeners"])[name], listenerAddrs(t, p["advertised.listeners"])[name]; l == "" || l != a {
				t.Errorf("dedicated=%v: broker %d listens for itself on %q and advertises %q, want the same address", dedicated, nd.id, l, a)
			}
		}
		for id, p := range props {
			if strings.Contains(p["listeners"], "CONTROLLER://") {
				t.Errorf("dedicated=%v: node %d still has a shared CONTROLLER listener: %s", dedicated, id, p["listeners"])
			}
		}
	}
}

// checkLinkListener checks the listener name that link l's source uses on
// node (of properties to, described as who): it listens on the proxy's
// upstream, advertises the proxy, and is a PLAINTEXT listener.
func checkLinkListener(t *testing.T, who string, to map[string]string, name string, l Link) {
	t.Helper()
	if got := listenerAddrs(t, to["advertised.listeners"])[name]; got != l.Listen {
		t.Errorf("%s advertises %s as %q, want the proxy %s of %s", who, name, got, l.Listen, l.Name)
	}
	if got := listenerAddrs(t, to["listeners"])[name]; got != l.Upstream {
		t.Errorf("%s listens for %s on %q, want the proxy's upstream %s", who, name, got, l.Upstream)
	}
	if !strings.Contains(to["listener.security.protocol.map"], name+":PLAINTEXT") {
		t.Errorf("%s does not map %s to PLAINTEXT: %v", who, name, to)
	}
}
