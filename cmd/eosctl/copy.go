package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newCopyCmd is replaced by the real command in its own issue.
func newCopyCmd(_ *env) *cobra.Command {
	return &cobra.Command{
		Use:    "copy",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("copy: not built yet")
		},
	}
}
