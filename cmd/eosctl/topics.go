package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTopicsCmd is replaced by the real command in its own issue.
func newTopicsCmd(_ *env) *cobra.Command {
	return &cobra.Command{
		Use:    "topics",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("topics: not built yet")
		},
	}
}
