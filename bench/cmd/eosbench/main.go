// Command eosbench runs eoskit's benchmark against Kafka's Java tools and
// raw franz-go on one single-node Kafka cluster, and writes the results
// table as text (stdout), JSON and Markdown. See bench/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/eoskit/eoskit/bench/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ex cli.ExitError
		if errors.As(err, &ex) {
			if ex.Err != nil {
				fmt.Fprintln(os.Stderr, "eosbench:", ex.Err)
			}
			os.Exit(ex.Code)
		}
		fmt.Fprintln(os.Stderr, "eosbench:", err)
		os.Exit(1)
	}
}
