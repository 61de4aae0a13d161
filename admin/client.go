package admin

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Client plans, applies, describes, lints and deletes topics, and manages
// ACLs, transactions and groups. It is safe for concurrent use. A Client
// from New owns its franz-go client (Close it); one from NewWithClient
// wraps a client the caller keeps owning.
type Client struct {
	cl   *kgo.Client
	adm  *kadm.Client
	log  *slog.Logger
	owns bool // Close closes cl
}

// Opt configures a Client.
type Opt interface{ apply(*Client) }

type optFunc func(*Client)

func (f optFunc) apply(c *Client) { f(c) }

// WithLogger logs what Apply and Delete change, at Info level. By default
// the Client is silent.
func WithLogger(l *slog.Logger) Opt {
	return optFunc(func(c *Client) {
		if l != nil {
			c.log = l
		}
	})
}

// New returns a Client for the cluster conn names, with a franz-go client
// of its own (conn.KgoOpts applied): Close it when done. It does not
// contact the cluster. An invalid conn is an error matching
// eoskit.ErrInvalidOption.
func New(conn eoskit.Conn, opts ...Opt) (*Client, error) {
	cl, err := conn.NewClient()
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	c := NewWithClient(cl, opts...)
	c.owns = true
	return c, nil
}

// NewWithClient returns a Client using cl, which the caller keeps owning
// (close it after the Client is done; Client.Close leaves it open).
func NewWithClient(cl *kgo.Client, opts ...Opt) *Client {
	c := &Client{cl: cl, adm: kadm.NewClient(cl), log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// Close closes the franz-go client if New created it; it is a no-op for a
// Client from NewWithClient.
func (c *Client) Close() {
	if c.owns {
		c.cl.Close()
	}
}

// metadata asks a broker for fresh metadata (kadm otherwise serves it from
// a cache up to 5s old, which would hide a topic just created or a broker
// just lost). No topics means all topics.
func (c *Client) metadata(ctx context.Context, topics ...string) (kadm.Metadata, error) {
	m, err := c.adm.Metadata(kadm.WithAuthorizedOps(ctx), topics...)
	if err != nil {
		return m, fmt.Errorf("request metadata: %w", err)
	}
	return m, nil
}
