package cli_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/eoskit/eoskit/bench/internal/cli"
)

func run(args ...string) (string, error) {
	cmd := cli.NewCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestList(t *testing.T) {
	out, err := run("--list", "--records", "300000")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "list.txt")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 creates it)", err)
	}
	if out != string(want) {
		t.Fatalf("--list output differs from %s:\n%s", path, out)
	}
}

// Invalid flags exit with status 2 before any broker starts.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--rounds", "0"},
		{"--records", "0"},
		{"--txn-versions", "3"},
		{"--cases", "no-such-case"},
	} {
		_, err := run(args...)
		var ex cli.ExitError
		if !errors.As(err, &ex) || ex.Code != 2 || ex.Err == nil {
			t.Errorf("%v: error %v, want an ExitError with code 2 and a reason", args, err)
		}
	}
}
