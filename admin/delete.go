package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// DeleteOption configures Delete.
type DeleteOption interface{ applyDelete(*deleteCfg) }

type deleteCfg struct{ confirmed bool }

type deleteOptFunc func(*deleteCfg)

func (f deleteOptFunc) applyDelete(c *deleteCfg) { f(c) }

// ConfirmDelete confirms that the named topics and all their records are to
// be deleted. Delete refuses to run without it.
func ConfirmDelete() DeleteOption { return deleteOptFunc(func(c *deleteCfg) { c.confirmed = true }) }

// Delete deletes the named topics. It returns ErrNotConfirmed without
// ConfirmDelete, and an error matching ErrInvalidSpec when no topic is named
// or a name is internal (starting with "__"); in both cases nothing is
// deleted. Otherwise the error joins a *TopicError per topic that could not
// be deleted (errors.Is kerr.UnknownTopicOrPartition for a missing topic).
func (c *Client) Delete(ctx context.Context, topics []string, opts ...DeleteOption) error {
	var cfg deleteCfg
	for _, o := range opts {
		o.applyDelete(&cfg)
	}
	if len(topics) == 0 {
		return fmt.Errorf("%w: delete: name the topics to delete", ErrInvalidSpec)
	}
	for _, t := range topics {
		if t == "" || strings.HasPrefix(t, "__") {
			return fmt.Errorf("%w: delete: refusing to delete %q: internal topics and empty names are never deleted", ErrInvalidSpec, t)
		}
	}
	if !cfg.confirmed {
		return fmt.Errorf("delete %s: %w: deleting topics loses their records; confirm explicitly (ConfirmDelete, or --yes)", strings.Join(topics, ", "), ErrNotConfirmed)
	}
	resp, err := c.adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	var errs []error
	for _, t := range topics {
		r, ok := resp[t]
		switch {
		case !ok:
			errs = append(errs, &TopicError{Topic: t, Op: "delete", Err: errors.New("no response from the broker")})
		case r.Err != nil:
			errs = append(errs, &TopicError{Topic: t, Op: "delete", Err: r.Err, Message: r.ErrMessage})
		default:
			c.log.Info("deleted topic", "topic", t)
		}
	}
	return errors.Join(errs...)
}
