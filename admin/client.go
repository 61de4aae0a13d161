package admin

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Client plans, applies, describes, lints and deletes topics. It is safe for
// concurrent use; it holds no state besides the franz-go client it wraps,
// which the caller owns and closes.
type Client struct {
	cl  *kgo.Client
	adm *kadm.Client
	log *slog.Logger
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

// New returns a Client using cl, which the caller keeps owning (close it
// after the Client is done). Build cl from the same connection options every
// eoskit client uses.
func New(cl *kgo.Client, opts ...Opt) *Client {
	c := &Client{cl: cl, adm: kadm.NewClient(cl), log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o.apply(c)
	}
	return c
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
