// Package kgoguard refuses franz-go options (eoskit.Conn.KgoOpts) that
// would undo a setting an eoskit package relies on for its guarantees:
// an explicit *eoskit.OptionError naming the option instead of a silent
// override in either direction. It is the one guard every package uses
// (producer, consumer, txn, postgres/sink).
//
// A package picks the guards of what it does (For with Consuming,
// AutoCommit, Producing, Transactional) and calls Check with the options
// it sets itself. Check builds clients that never connect and reads each
// guarded option back (kgo.Client.OptValues). Options whose value franz-go
// wraps or cannot report (partition and commit callbacks, offset
// adjusters, the package's own switches such as BlockRebalanceOnPoll) are
// refused whenever the caller passes them, found by the franz-go
// constructor that built them.
package kgoguard

import (
	"cmp"
	"fmt"
	"reflect"
	"runtime"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Guard is one franz-go option an eoskit package protects.
type Guard struct {
	Opt  any    // the kgo option function, e.g. kgo.FetchIsolationLevel
	Name string // as the user writes it, e.g. "kgo.FetchIsolationLevel"
	Why  string // what it would undo and what to use instead
	// Always refuses any value other than the package's own, or franz-go's
	// default where the package sets none; without it the option is
	// refused only where the package sets it itself.
	Always bool
	// ByName refuses the option whenever the caller passes it (its value
	// cannot be compared: franz-go wraps it, or it is a switch the package
	// owns).
	ByName bool
}

// Set is a group of guards: what a package does with its client.
type Set int

// The sets. A Why may name the package's own option (%[1]s is the package).
const (
	// Consuming: group, topics, isolation level, start and reset offsets,
	// rebalance callbacks, offset adjusters, session timeout.
	Consuming Set = iota
	// AutoCommit: the commit of marked records (the consumer's).
	AutoCommit
	// Producing: acks, idempotence, produce cancellation.
	Producing
	// Transactional: transactional ID and timeout.
	Transactional
)

var catalog = [...][]Guard{
	Consuming: {
		{kgo.ConsumerGroup, "kgo.ConsumerGroup", "overrides the group: use %[1]s.WithGroup", false, false},
		{kgo.ConsumeTopics, "kgo.ConsumeTopics", "overrides the topics: use %[1]s.WithTopics", false, false},
		{kgo.ConsumeRegex, "kgo.ConsumeRegex", "changes what the topics mean: name them with %[1]s.WithTopics", true, false},
		{kgo.ConsumePartitions, "kgo.ConsumePartitions", "consumes outside the group: use %[1]s.WithTopics", true, false},
		{kgo.FetchIsolationLevel, "kgo.FetchIsolationLevel", "overrides the isolation level: reads are read_committed (consumer.WithReadUncommitted is the named opt-out)", false, false},
		{kgo.ConsumeStartOffset, "kgo.ConsumeStartOffset", "overrides the start position: use %[1]s.WithStartOffset", false, false},
		{kgo.ConsumeResetOffset, "kgo.ConsumeResetOffset", "would reset a lost position silently: %[1]s stops with eoskit.ErrPositionLost instead; move the group's offsets deliberately", false, false},
		{kgo.SessionTimeout, "kgo.SessionTimeout", "overrides the session timeout: use %[1]s.WithSessionTimeout", false, false},
		{kgo.BlockRebalanceOnPoll, "kgo.BlockRebalanceOnPoll", "is %[1]s's to manage (set by the wrong side, Close hangs or a rebalance cuts a batch): drop it", true, true},
		{kgo.AdjustFetchOffsetsFn, "kgo.AdjustFetchOffsetsFn", "could move the committed positions (skip or repeat records): move the group's offsets deliberately instead", true, true},
		{kgo.OnOffsetsFetched, "kgo.OnOffsetsFetched", "could move the committed positions (skip or repeat records): move the group's offsets deliberately instead", true, true},
		{kgo.OnPartitionsAssigned, "kgo.OnPartitionsAssigned", "replaces %[1]s's own rebalance callback: use %[1]s.WithHooks (eoskit.HookAssigned) to observe rebalances", true, true},
		{kgo.OnPartitionsRevoked, "kgo.OnPartitionsRevoked", "replaces %[1]s's own rebalance callback: use %[1]s.WithHooks (eoskit.HookRevoked) to observe rebalances", true, true},
		{kgo.OnPartitionsLost, "kgo.OnPartitionsLost", "replaces %[1]s's own rebalance callback: use %[1]s.WithHooks (eoskit.HookRevoked) to observe rebalances", true, true},
	},
	AutoCommit: {
		{kgo.DisableAutoCommit, "kgo.DisableAutoCommit", "changes who commits offsets: %[1]s commits handled records itself", true, false},
		{kgo.AutoCommitMarks, "kgo.AutoCommitMarks", "changes what is committed: %[1]s commits only handled records itself", true, true},
		{kgo.AutoCommitInterval, "kgo.AutoCommitInterval", "overrides the commit interval: use %[1]s.WithCommitInterval", false, false},
		{kgo.AutoCommitCallback, "kgo.AutoCommitCallback", "replaces %[1]s's own commit callback: use %[1]s.WithHooks (eoskit.HookCommit) to observe commits", true, true},
		{kgo.RequireStableFetchOffsets, "kgo.RequireStableFetchOffsets", "is always on in franz-go: drop it", true, true},
	},
	Producing: {
		{kgo.RequiredAcks, "kgo.RequiredAcks", "acks below all in-sync replicas can lose acknowledged records: producer.UnsafeAcks requests it by name (producer.New only)", true, false},
		{kgo.DisableIdempotentWrite, "kgo.DisableIdempotentWrite", "allows duplicates and reordering: producer.UnsafeDisableIdempotence requests it by name (producer.New only)", true, false},
		{kgo.AllowIdempotentProduceCancellation, "kgo.AllowIdempotentProduceCancellation", "a cancelled produce may still be written, and producing it again duplicates it: producer.UnsafeAllowProduceCancellation requests it by name (producer.New only)", true, false},
	},
	Transactional: {
		{kgo.TransactionalID, "kgo.TransactionalID", "overrides the transactional ID: name it once (producer.NewTransactional, txn.WithTransactionalID); a consumer, sink or idempotent producer takes none", true, false},
		{kgo.TransactionTimeout, "kgo.TransactionTimeout", "overrides the transaction timeout: use %[1]s.WithTransactionTimeout", false, false},
	},
}

// For returns the guards of sets, their messages naming package pkg's
// options.
func For(pkg string, sets ...Set) []Guard {
	var out []Guard
	for _, s := range sets {
		for _, g := range catalog[s] {
			if strings.Contains(g.Why, "%[1]s") {
				g.Why = fmt.Sprintf(g.Why, pkg)
			}
			out = append(out, g)
		}
	}
	return out
}

// Check reports, as an *eoskit.OptionError for package pkg, every guard
// that user (Conn.KgoOpts) trips (an option the caller passed, found by
// OptName, whose value differs from the package's; for ByName any value),
// and any option franz-go itself rejects together with the package's. minimal is what franz-go needs to validate
// the options (a group and topics for a consumer); ours is what the
// package sets itself. Three clients are compared, none of which
// connects: ours then user (the user's win), user then ours (the
// package's win) and ours with the caller's unguarded tuning. When franz-go rejects the mix, the
// options franz-go rejects are reported and the guards are read from the
// caller's options alone.
func Check(pkg string, minimal, ours, user []kgo.Opt, guards []Guard) error {
	if len(user) == 0 {
		return nil
	}
	ps := eoskit.NewProblems(pkg)
	guarded := map[string]bool{}
	for _, g := range guards {
		guarded[g.Name] = true
	}
	passed := map[string]bool{}
	var tuning []kgo.Opt // the caller's options no guard is about
	for _, o := range user {
		name := OptName(o)
		passed[name] = true
		if !guarded[name] {
			tuning = append(tuning, o)
		}
	}
	seed := []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}
	def, err := kgo.NewClient(concat(seed, minimal, tuning, ours)...)
	if err != nil {
		ps.Addf("franz-go rejects Conn.KgoOpts with %s's settings: %v", pkg, err)
		return ps.Err()
	}
	defer def.Close()
	set, errSet := kgo.NewClient(concat(seed, minimal, ours, user)...)
	ref, errRef := kgo.NewClient(concat(seed, minimal, user, ours)...)
	if errSet != nil || errRef != nil {
		// franz-go rejects the mix: still name the guarded options the
		// caller set, read from the caller's options alone.
		ps.Addf("franz-go rejects Conn.KgoOpts with %s's settings: %v", pkg, cmp.Or(errSet, errRef))
		closeAll(set, ref)
		if set, err = kgo.NewClient(concat(seed, minimal, user)...); err != nil {
			return ps.Err()
		}
		ref = nil
	}
	defer closeAll(set, ref)
	for _, g := range guards {
		tripped := passed[g.Name]
		if tripped && !g.ByName {
			want := ref
			if g.Always || ref == nil {
				want = def
			}
			tripped = changed(want.OptValues(g.Opt), set.OptValues(g.Opt))
		}
		if tripped {
			ps.Addf("Conn.KgoOpts sets %s, which %s", g.Name, g.Why)
		}
	}
	return ps.Err()
}

func closeAll(cls ...*kgo.Client) {
	for _, cl := range cls {
		if cl != nil {
			cl.Close()
		}
	}
}

// OptName returns "kgo.X" for an option built by kgo.X, or "". A kgo
// option holds a closure named "<pkg>.X.funcN" (pkg is the caller's when
// the constructor was inlined).
func OptName(o kgo.Opt) string {
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Struct || v.NumField() == 0 || v.Field(0).Kind() != reflect.Func {
		return ""
	}
	f := runtime.FuncForPC(v.Field(0).Pointer())
	if f == nil {
		return ""
	}
	name := f.Name()
	i := strings.LastIndex(name, ".func")
	if i < 0 {
		return ""
	}
	name = name[:i]
	return "kgo." + name[strings.LastIndex(name, ".")+1:]
}

func concat(parts ...[]kgo.Opt) []kgo.Opt {
	var out []kgo.Opt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// changed compares option values; functions compare by being set.
func changed(a, b []any) bool {
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		va, vb := reflect.ValueOf(a[i]), reflect.ValueOf(b[i])
		if va.Kind() == reflect.Func || vb.Kind() == reflect.Func {
			if isNil(va) != isNil(vb) {
				return true
			}
			continue
		}
		if !reflect.DeepEqual(a[i], b[i]) {
			return true
		}
	}
	return false
}

func isNil(v reflect.Value) bool { return !v.IsValid() || v.Kind() == reflect.Func && v.IsNil() }
