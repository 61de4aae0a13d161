package eoskit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eoskit/eoskit"
)

func TestConnValidate(t *testing.T) {
	for _, tc := range []struct {
		conn eoskit.Conn
		want string // "" = valid
	}{
		{eoskit.Conn{Brokers: []string{"localhost:9092"}}, ""},
		{eoskit.Conn{Brokers: []string{"[::1]:9092"}}, ""},
		{eoskit.Conn{}, "no seed brokers"},
		{eoskit.Conn{Brokers: []string{"localhost"}}, `"localhost" is not host:port`},
		{eoskit.Conn{Brokers: []string{"localhost:"}}, `is not host:port`},
	} {
		err := tc.conn.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.conn.Brokers, err)
			}
			continue
		}
		if !errors.Is(err, eoskit.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want ErrInvalidOption containing %q", tc.conn.Brokers, err, tc.want)
		}
	}
	if err := (eoskit.Conn{}).Validate(); !errors.Is(err, eoskit.ErrNoBrokers) {
		t.Errorf("empty Conn: %v does not match ErrNoBrokers", err)
	}
}

func TestProblemsReportEveryProblem(t *testing.T) {
	ps := eoskit.NewProblems("txn")
	if ps.Err() != nil {
		t.Fatal("no problem yet, got an error")
	}
	ps.Addf("no group: set WithGroup")
	ps.Add(nil)
	ps.Add((eoskit.Conn{}).Validate())
	ps.Add(&eoskit.OptionError{Package: "x", Problems: []string{"a", "b"}})
	err := ps.Err()
	var oe *eoskit.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("got %T %v", err, err)
	}
	if len(oe.Problems) != 4 || oe.Problems[2] != "a" || oe.Package != "txn" {
		t.Fatalf("problems %q", oe.Problems)
	}
	if !strings.HasPrefix(err.Error(), "txn: invalid options: no group: set WithGroup; ") {
		t.Fatalf("message %q", err)
	}
}

func TestAccessErrorMatchesKindAndCause(t *testing.T) {
	err := error(&eoskit.AccessError{Kind: eoskit.ErrAuthorization, Msg: "not authorized", Err: kerr.TopicAuthorizationFailed})
	for _, target := range []error{eoskit.ErrAccessDenied, eoskit.ErrAuthorization, kerr.TopicAuthorizationFailed} {
		if !errors.Is(err, target) {
			t.Errorf("does not match %v", target)
		}
	}
	if errors.Is(err, eoskit.ErrTLS) {
		t.Error("matches ErrTLS")
	}
}

func TestUnproducibleErrorNamesInput(t *testing.T) {
	err := error(&eoskit.UnproducibleError{InputTopic: "in", InputPartition: 2, InputOffset: 7, OutputTopic: "out", Err: kerr.MessageTooLarge})
	if !errors.Is(err, eoskit.ErrUnproducible) || !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatal("does not match its sentinel and cause")
	}
	if !strings.Contains(err.Error(), "input in/2/7") || !strings.Contains(err.Error(), `topic "out"`) {
		t.Fatalf("message %q", err)
	}
}

func TestOutcomeAndReasonLabels(t *testing.T) {
	if eoskit.TxnOutcomeUnknown.String() != "unknown" || eoskit.AbortProduceError.String() != "produce_error" || eoskit.AbortNone.String() != "" {
		t.Fatal("labels changed: metric label values are a contract")
	}
}
