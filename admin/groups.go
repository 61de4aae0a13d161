package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrUnknownGroup reports a consumer group no coordinator knows (no
// members and no committed offsets).
var ErrUnknownGroup = errors.New("unknown consumer group")

// Group is a consumer group as its coordinator describes it.
type Group struct {
	Name         string        `json:"name"`
	Type         string        `json:"type,omitempty"`         // classic or consumer (KIP-848); "" on old brokers
	State        string        `json:"state"`                  // Empty, Stable, PreparingRebalance, CompletingRebalance, Dead, Assigning, Reconciling
	ProtocolType string        `json:"protocolType,omitempty"` // "consumer" for consumers, "connect" for Kafka Connect
	Protocol     string        `json:"protocol,omitempty"`     // the assignor (e.g. cooperative-sticky, uniform)
	Coordinator  int32         `json:"coordinator"`
	Members      []GroupMember `json:"members,omitempty"`
	Error        string        `json:"error,omitempty"`
	Err          error         `json:"-"`
}

// GroupMember is one member of a group and its assignment.
type GroupMember struct {
	MemberID   string           `json:"memberId"`
	InstanceID string           `json:"instanceId,omitempty"`
	ClientID   string           `json:"clientId"`
	ClientHost string           `json:"clientHost"`
	Assigned   []TopicPartition `json:"assigned"`
}

// Groups are groups keyed by name.
type Groups map[string]Group

// Sorted returns the groups ordered by name.
func (gs Groups) Sorted() []Group {
	s := make([]Group, 0, len(gs))
	for _, g := range gs {
		s = append(s, g)
	}
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// ListGroups lists every group (name, type, state, protocol type,
// coordinator); DescribeGroups adds members and assignments.
func (c *Client) ListGroups(ctx context.Context) (Groups, error) {
	ls, err := c.adm.ListGroups(ctx)
	out := make(Groups, len(ls))
	for _, l := range ls {
		out[l.Group] = Group{Name: l.Group, Type: l.GroupType, State: l.State, ProtocolType: l.ProtocolType, Coordinator: l.Coordinator}
	}
	if err != nil {
		return out, fmt.Errorf("list groups: %w", explain(err))
	}
	return out, nil
}

// DescribeGroups describes groups (all when none is given): state,
// protocol, members and their assigned partitions, for classic groups and
// KIP-848 consumer groups alike. A group that cannot be described carries
// its error (ErrUnknownGroup for one nobody knows).
func (c *Client) DescribeGroups(ctx context.Context, names ...string) (Groups, error) {
	listed, err := c.ListGroups(ctx)
	if err != nil {
		return listed, err
	}
	if len(names) == 0 {
		for n := range listed {
			names = append(names, n)
		}
	}
	var classic, next []string
	out := make(Groups, len(names))
	for _, n := range names {
		l, ok := listed[n]
		switch {
		case !ok:
			out[n] = Group{Name: n, State: "Dead", Err: ErrUnknownGroup, Error: ErrUnknownGroup.Error(), Coordinator: -1}
		case l.Type == "consumer":
			next = append(next, n)
		default:
			classic = append(classic, n)
		}
	}
	var errs []error
	if len(classic) > 0 {
		ds, err := c.adm.DescribeGroups(ctx, classic...)
		if err != nil {
			errs = append(errs, fmt.Errorf("describe groups: %w", explain(err)))
		}
		for _, d := range ds {
			g := Group{Name: d.Group, Type: listed[d.Group].Type, State: d.State, ProtocolType: d.ProtocolType, Protocol: d.Protocol,
				Coordinator: d.Coordinator.NodeID, Members: []GroupMember{}, Err: d.Err}
			for _, m := range d.Members {
				gm := GroupMember{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: []TopicPartition{}}
				if m.InstanceID != nil {
					gm.InstanceID = *m.InstanceID
				}
				if a, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range a.Topics {
						for _, p := range t.Partitions {
							gm.Assigned = append(gm.Assigned, TopicPartition{t.Topic, p})
						}
					}
				}
				sortTPs(gm.Assigned)
				g.Members = append(g.Members, gm)
			}
			out[g.Name] = g
		}
	}
	if len(next) > 0 {
		ds, err := c.adm.DescribeConsumerGroups(ctx, next...)
		if err != nil {
			errs = append(errs, fmt.Errorf("describe consumer groups: %w", explain(err)))
		}
		for _, d := range ds {
			g := Group{Name: d.Group, Type: "consumer", State: d.State, ProtocolType: "consumer", Protocol: d.AssignorName,
				Coordinator: d.Coordinator.NodeID, Members: []GroupMember{}, Err: d.Err}
			for _, m := range d.Members {
				gm := GroupMember{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: []TopicPartition{}}
				if m.InstanceID != nil {
					gm.InstanceID = *m.InstanceID
				}
				for _, t := range m.Assignment.Sorted() {
					for _, p := range t.Partitions {
						gm.Assigned = append(gm.Assigned, TopicPartition{t.Topic, p})
					}
				}
				sortTPs(gm.Assigned)
				g.Members = append(g.Members, gm)
			}
			out[g.Name] = g
		}
	}
	for n, g := range out {
		if g.Err != nil && g.Error == "" {
			g.Error = g.Err.Error()
			out[n] = g
		}
		sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].MemberID < g.Members[j].MemberID })
	}
	return out, errors.Join(errs...)
}

func sortTPs(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// GroupLag is a group's lag on every partition it has committed offsets
// on or is assigned.
type GroupLag struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Partitions []PartitionLag `json:"partitions"`
	LagToLSO   int64          `json:"lagToLso"` // sum over partitions
	LagToHWM   int64          `json:"lagToHwm"`
	Pinned     int            `json:"pinned"` // partitions whose LSO an open transaction holds below the HWM
}

// PartitionLag is one partition of a GroupLag. read_committed consumers
// can read up to the last stable offset (LSO); the records between the LSO
// and the high watermark (HWM) wait for the open transaction at the LSO,
// named in PinnedBy.
type PartitionLag struct {
	TopicPartition
	Member    string   `json:"member,omitempty"` // the client ID of the member assigned the partition
	Committed int64    `json:"committed"`        // -1 when the group has committed nothing there
	LSO       int64    `json:"lso"`
	HWM       int64    `json:"hwm"`
	LagToLSO  int64    `json:"lagToLso"` // from the committed offset (or the log start) to the LSO
	LagToHWM  int64    `json:"lagToHwm"`
	PinnedBy  *OpenTxn `json:"pinnedBy,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// GroupLag computes the lag of group on each partition to both the last
// stable offset (what a read_committed consumer can reach) and the high
// watermark, and names the open transaction holding each partition whose
// LSO is below its HWM (with the hanging criteria of o it meets, as
// FindHanging reports them). Lags count offsets, transaction markers
// included: a read_committed consumer stopped by an open transaction
// right after a committed one shows a lag of 1 to the LSO (the commit
// marker). Error: ErrUnknownGroup.
func (c *Client) GroupLag(ctx context.Context, group string, o HangingOptions) (GroupLag, error) {
	gs, err := c.DescribeGroups(ctx, group)
	if err != nil {
		return GroupLag{Group: group}, err
	}
	g := gs[group]
	lag := GroupLag{Group: group, State: g.State, Partitions: []PartitionLag{}}
	offs, err := c.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return lag, fmt.Errorf("group %q: %w", group, ErrUnknownGroup)
	}
	if err != nil {
		return lag, fmt.Errorf("fetch offsets of group %q: %w", group, explain(err))
	}
	if errors.Is(g.Err, ErrUnknownGroup) && len(offs) == 0 {
		return lag, fmt.Errorf("group %q: %w", group, ErrUnknownGroup)
	}
	member := map[TopicPartition]string{}
	parts := map[TopicPartition]int64{}
	topics := map[string]bool{}
	for _, m := range g.Members {
		for _, tp := range m.Assigned {
			member[tp] = m.ClientID
			parts[tp] = -1
			topics[tp.Topic] = true
		}
	}
	offs.Each(func(r kadm.OffsetResponse) {
		if r.At >= 0 {
			tp := TopicPartition{r.Topic, r.Partition}
			parts[tp] = r.At
			topics[r.Topic] = true
		}
	})
	lso, hwm, err := c.stableAndHigh(ctx, keys(topics))
	if err != nil {
		return lag, err
	}
	starts := map[TopicPartition]int64{}
	if len(topics) > 0 {
		ss, err := c.adm.ListStartOffsets(ctx, keys(topics)...)
		if err != nil {
			return lag, fmt.Errorf("list start offsets: %w", explain(err))
		}
		ss.Each(func(o kadm.ListedOffset) { starts[TopicPartition{o.Topic, o.Partition}] = o.Offset })
	}
	pinned := make(kadm.TopicsSet)
	for tp, at := range parts {
		pl := PartitionLag{TopicPartition: tp, Member: member[tp], Committed: at, LSO: lso[tp], HWM: hwm[tp]}
		from := at
		if from < 0 {
			from = starts[tp]
		}
		pl.LagToLSO, pl.LagToHWM = max(pl.LSO-from, 0), max(pl.HWM-from, 0)
		if _, ok := lso[tp]; !ok {
			pl.Error = "no offsets listed (the partition may have no leader)"
		}
		if pl.LSO < pl.HWM {
			pinned.Add(tp.Topic, tp.Partition)
		}
		lag.Partitions = append(lag.Partitions, pl)
	}
	sort.Slice(lag.Partitions, func(i, j int) bool {
		a, b := lag.Partitions[i], lag.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	if len(pinned) > 0 {
		pps, err := c.describeProducers(ctx, pinned)
		if err != nil {
			return lag, err
		}
		open, err := c.openTxns(ctx, pps, o)
		if err != nil {
			return lag, err
		}
		for i := range lag.Partitions {
			pl := &lag.Partitions[i]
			for j := range open {
				// The transaction whose first offset is the LSO is the one
				// holding it.
				if open[j].TopicPartition == pl.TopicPartition && open[j].StartOffset == pl.LSO {
					t := open[j]
					pl.PinnedBy = &t
				}
			}
		}
	}
	for _, pl := range lag.Partitions {
		lag.LagToLSO += pl.LagToLSO
		lag.LagToHWM += pl.LagToHWM
		if pl.PinnedBy != nil {
			lag.Pinned++
		}
	}
	return lag, nil
}
