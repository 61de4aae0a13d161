package demo

import (
	"context"
	"errors"
	"net"
	"sync"
)

// errCrashed is what a crashed processor's network returns.
var errCrashed = errors.New("demo: processor crashed (simulated)")

// killSwitch is a dialer whose connections can all be cut at once, after
// which it refuses to dial. A processor using it stops talking to the
// cluster mid-transaction without ending its transaction or leaving its
// group: from the cluster's side, the process died (kill -9).
type killSwitch struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (k *killSwitch) dial(ctx context.Context, network, host string) (net.Conn, error) {
	if k.isDead() {
		return nil, errCrashed
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		c.Close()
		return nil, errCrashed
	}
	k.conns = append(k.conns, c)
	return c, nil
}

func (k *killSwitch) isDead() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.dead
}

// kill cuts every connection and refuses new ones.
func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		c.Close()
	}
	k.conns = nil
}
