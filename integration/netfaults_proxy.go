package integration

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// The proxy below runs toxiproxy's toxics (package toxics: what a fault does
// to the bytes) in a TCP proxy of eoskit's own. toxiproxy's own Proxy type
// lives in its root package, which also holds its HTTP API server and
// Prometheus metrics (gorilla/mux, prometheus/client_golang, protobuf) and
// cannot be built without them; its byte counters are only updated when a
// connection ends. Here every connection has a fixed chain of one stub per
// fault kind; a fault is switched on or off by interrupting that stub and
// running another toxic in it, as toxiproxy's UpdateToxic does.

// faultKind is one kind of fault; each has a fixed slot in every connection's
// chain, in this order.
type faultKind int

const (
	faultCut        faultKind = iota // toxics.TimeoutToxic{Timeout: 0}
	faultCutAnswers                  // the same, on answers (To → From) only
	faultLatency                     // toxics.LatencyToxic
	faultBandwidth                   // toxics.BandwidthToxic
	faultResetAfter                  // toxics.LimitDataToxic
	numFaults
)

func (k faultKind) String() string {
	return [...]string{"cut", "cut_answers", "latency", "bandwidth", "reset_after"}[k]
}

// directions reports which streams the fault acts on: [0] requests (toward
// the listener), [1] answers.
func (k faultKind) directions() [2]bool {
	if k == faultCutAnswers {
		return [2]bool{false, true}
	}
	return [2]bool{true, true}
}

// isCut reports a blackhole, whose removal closes the connection.
func (k faultKind) isCut() bool { return k == faultCut || k == faultCutAnswers }

// applyTimeout bounds how long switching a fault on one connection may take.
// A connection whose receiver does not read (a paused broker with full
// buffers) cannot be interrupted; it is closed instead.
const applyTimeout = 2 * time.Second

var noop = &toxics.ToxicWrapper{Toxic: new(toxics.NoopToxic), Type: "noop", Toxicity: 1}

// proxy forwards one listener to one upstream address through the current faults.
type proxy struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	faults [2][numFaults]*toxics.ToxicWrapper // per direction; noop when off
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted atomic.Int64
	open     atomic.Int64
	bytes    [2]atomic.Int64 // delivered: [0] toward upstream, [1] back to the dialer
}

func startProxy(upstream string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("integration: network faults: listen for a proxy: %w", err)
	}
	p := &proxy{ln: ln, upstream: upstream, conns: map[*proxyConn]struct{}{}}
	for d := range p.faults {
		for i := range p.faults[d] {
			p.faults[d][i] = noop
		}
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			_ = c.Close() // the broker is down: its clients see the connection end
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			return
		}
		pc := &proxyConn{p: p, down: c, up: up, cur: p.faults}
		pc.dirs[0] = pc.startChain(c, up, &p.bytes[0], p.faults[0])
		pc.dirs[1] = pc.startChain(up, c, &p.bytes[1], p.faults[1])
		p.conns[pc] = struct{}{}
		p.open.Add(1)
		p.mu.Unlock()
	}
}

// set switches fault kind k to t (nil: off) on the proxy and on every open
// connection, and returns once each connection carries it or was closed.
func (p *proxy) set(k faultKind, t toxics.Toxic) {
	w := noop
	if t != nil {
		w = &toxics.ToxicWrapper{Toxic: t, Type: k.String(), Toxicity: 1}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	dirs := k.directions()
	d := 0
	if !dirs[0] {
		d = 1
	}
	if p.closed || p.faults[d][k] == noop && w == noop {
		return
	}
	if k.isCut() && p.faults[d][k] != noop && w != noop {
		return // already cut: a second cut must not close the held connections
	}
	for d, on := range dirs {
		if on {
			p.faults[d][k] = w
		}
	}
	var wg sync.WaitGroup
	for pc := range p.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() {
				pc.switchFault(k, w)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(applyTimeout):
				pc.close()
				<-done
			}
		}()
	}
	wg.Wait()
}

// active reports the fault kinds switched on.
func (p *proxy) active() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range numFaults {
		if p.faults[0][k] != noop || p.faults[1][k] != noop {
			out = append(out, k.String())
		}
	}
	return out
}

func (p *proxy) forget(pc *proxyConn) {
	p.mu.Lock()
	if _, ok := p.conns[pc]; ok {
		delete(p.conns, pc)
		p.open.Add(-1)
	}
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := make([]*proxyConn, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, pc := range conns {
		pc.close()
	}
	p.wg.Wait()
}

// proxyConn is one accepted connection and its upstream connection.
type proxyConn struct {
	p        *proxy
	down, up net.Conn
	dirs     [2]*chain
	mu       sync.Mutex                         // serialises fault switches
	cur      [2][numFaults]*toxics.ToxicWrapper // what each slot runs, per direction
	once     sync.Once
}

func (pc *proxyConn) close() {
	pc.once.Do(func() {
		_ = pc.down.Close()
		_ = pc.up.Close()
		pc.p.forget(pc)
	})
}

// chain is one direction of a connection: src → stubs → dst.
type chain struct {
	chans [numFaults + 1]chan *stream.StreamChunk // chans[i] feeds stub i; the last feeds the writer
	stubs [numFaults]*toxics.ToxicStub
}

func (pc *proxyConn) startChain(src io.Reader, dst io.Writer, delivered *atomic.Int64, faults [numFaults]*toxics.ToxicWrapper) *chain {
	ch := &chain{}
	for i := range ch.chans {
		size := 0
		if i == int(faultLatency) {
			size = 1024 // as toxiproxy buffers a latency toxic's input: delay, not throughput
		}
		ch.chans[i] = make(chan *stream.StreamChunk, size)
	}
	for i := range ch.stubs {
		s := toxics.NewToxicStub(ch.chans[i], ch.chans[i+1])
		if st, ok := faults[i].Toxic.(toxics.StatefulToxic); ok {
			s.State = st.NewState()
		}
		ch.stubs[i] = s
		go s.Run(faults[i])
	}
	go func() {
		in := stream.NewChanWriter(ch.chans[0])
		_, _ = io.Copy(in, src)
		_ = in.Close()
	}()
	go func() {
		for c := range ch.chans[numFaults] {
			if _, err := dst.Write(c.Data); err != nil {
				break
			}
			delivered.Add(int64(len(c.Data)))
		}
		pc.close()
		// Unblock every stage: a stub a toxic closed stops reading its input,
		// and the writer may have stopped early.
		for _, c := range ch.chans {
			go func() {
				for range c {
				}
			}()
		}
	}()
	return ch
}

// switchFault runs w in slot k of the directions k acts on.
func (pc *proxyConn) switchFault(k faultKind, w *toxics.ToxicWrapper) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for d, ch := range pc.dirs {
		if !k.directions()[d] {
			continue
		}
		prev := pc.cur[d][k]
		pc.cur[d][k] = w
		s := ch.stubs[k]
		if !s.InterruptToxic() {
			continue // this direction has ended
		}
		// A blackhole's cleanup closes the connection: the bytes it dropped
		// are gone, so the stream cannot continue (as in toxiproxy).
		if cu, ok := prev.Toxic.(toxics.CleanupToxic); ok {
			cu.Cleanup(s)
			if s.Closed() {
				continue
			}
		}
		s.State = nil
		if st, ok := w.Toxic.(toxics.StatefulToxic); ok {
			s.State = st.NewState()
		}
		go s.Run(w)
	}
}
