package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, as documented in the README.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2 // bad flags, bad arguments, invalid spec
	exitPending = 3 // plan --detailed-exitcode: changes are pending
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as a usage or input problem (exit 2).
func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

// withCode returns an error that makes eosctl exit with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// env carries the process's streams; commands never touch os.Std* directly.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Execute runs eosctl with args and returns the exit code.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.code != exitPending {
			printErr(stderr, ee.err)
		}
		return ee.code
	}
	printErr(stderr, err)
	if isFlagError(err) {
		fmt.Fprintln(stderr, "Run 'eosctl --help' for usage.")
		return exitUsage
	}
	return exitFailed
}

// printErr prints err on one line, then the flags that fix it, if known.
func printErr(w io.Writer, err error) {
	fmt.Fprintf(w, "eosctl: %v\n", err)
	if hint := flagHint(err); hint != "" && !strings.Contains(err.Error(), "eosctl acls apply") {
		fmt.Fprintf(w, "eosctl: %s\n", hint)
	}
}

// flagError marks errors from flag parsing and argument checks.
type flagError struct{ err error }

func (f flagError) Error() string { return f.err.Error() }
func (f flagError) Unwrap() error { return f.err }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "eosctl",
		Short:         "Exactly-once processing on Apache Kafka: topics, copy, verify, demo, dev clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError{err} })
	root.AddCommand(
		newDevCmd(e),
		newTopicsCmd(e),
		newACLsCmd(e),
		newCopyCmd(e),
		newVerifyCmd(e),
		newDemoCmd(e),
		newSinkCmd(e),
		newOutboxCmd(e),
		newTxnsCmd(e),
		newGroupsCmd(e),
		newDLQCmd(e),
	)
	addVersion(root, e) // eosctl version, eosctl --version
	// Argument-count errors from cobra.Args validators are usage errors too.
	wrapArgs(root)
	return root
}

func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return flagError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}
