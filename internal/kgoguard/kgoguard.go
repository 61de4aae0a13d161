// Package kgoguard refuses franz-go options (eoskit.Conn.KgoOpts) that
// would override a setting an eoskit package relies on for its
// guarantees. It builds a client from the caller's options alone and one
// from none, reads each guarded option back with kgo.Client.OptValues and
// reports every option whose value the caller changed: an explicit error
// instead of a silent override in either direction. Partition callbacks
// cannot be told apart this way (franz-go wraps them); packages apply
// their own last, so a caller's are replaced, and offer hooks instead.
package kgoguard

import (
	"fmt"
	"reflect"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Guard is one franz-go option the package sets itself.
type Guard struct {
	Opt  any    // the kgo option function, e.g. kgo.FetchIsolationLevel
	Name string // as the user wrote it, e.g. "kgo.FetchIsolationLevel"
	Use  string // what to use instead, e.g. "txn always reads read_committed"
	// Default marks options the package leaves at franz-go's default
	// (BlockRebalanceOnPoll off, acks=all...): any value other than the
	// default is a change.
	Default bool
}

// Check reports, as an *eoskit.OptionError for package pkg, every guard
// whose value user changes from what the package sets (ours), or from
// franz-go's default for a Default guard, and any option franz-go itself
// rejects. minimal is what franz-go needs to validate the options against
// (a group and topics for a consumer). The clients compared apply every
// option: one applies user after ours (the user's win), the other ours
// after user (the package's win); none of them connects.
func Check(pkg string, minimal, ours, user []kgo.Opt, guards []Guard) error {
	if len(user) == 0 {
		return nil
	}
	ps := eoskit.NewProblems(pkg)
	seed := []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}
	set, err := kgo.NewClient(concat(seed, minimal, ours, user)...)
	if err != nil {
		ps.Addf("franz-go rejects Conn.KgoOpts: %v", err)
		return ps.Err()
	}
	defer set.Close()
	ref, err := kgo.NewClient(concat(seed, minimal, user, ours)...)
	if err != nil {
		ps.Addf("franz-go rejects Conn.KgoOpts: %v", err)
		return ps.Err()
	}
	defer ref.Close()
	def, err := kgo.NewClient(concat(seed, minimal)...)
	if err != nil {
		ps.Addf("build a reference client: %v", err)
		return ps.Err()
	}
	defer def.Close()
	for _, g := range guards {
		want := ref
		if g.Default {
			want = def
		}
		if changed(want.OptValues(g.Opt), set.OptValues(g.Opt)) {
			ps.Addf("Conn.KgoOpts sets %s: %s", g.Name, g.Use)
		}
	}
	return ps.Err()
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

// Describe is a one-line reminder of which options a package guards, for
// its docs and error messages.
func Describe(guards []Guard) string {
	s := ""
	for i, g := range guards {
		if i > 0 {
			s += ", "
		}
		s += g.Name
	}
	return fmt.Sprintf("guarded franz-go options: %s", s)
}
