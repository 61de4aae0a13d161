package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newVerifyCmd is replaced by the real command in its own issue.
func newVerifyCmd(_ *env) *cobra.Command {
	return &cobra.Command{
		Use:    "verify",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("verify: not built yet")
		},
	}
}
