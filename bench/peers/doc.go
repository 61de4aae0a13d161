// Package peers holds the benchmark's other Go Kafka clients: IBM/sarama and
// confluent-kafka-go (librdkafka through cgo) producing the produce cases'
// workload with the same settings as the eoskit and franz-go sides.
//
// It is a module of its own so that eoskit's users never download these
// clients: eosbench builds ./sarama and ./confluent with "go build" at start
// and leaves a peer out of the table, with the reason printed, when it does
// not build (confluent-kafka-go needs a C compiler).
//
// Each program takes the client.Spec JSON as its only argument and prints
// the client.Result line, like eosbench's own hidden client command.
package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/eoskit/eoskit/bench/internal/client"
)

// Main parses the spec, runs produce and exits: 0, 1 (run failed, the
// Result line says why) or 2 (bad arguments).
func Main(impl string, produce func(context.Context, client.Spec) (client.Result, error)) {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s SPEC-JSON (eosbench starts this program)\n", os.Args[0])
		os.Exit(2)
	}
	var s client.Spec
	if err := json.Unmarshal([]byte(os.Args[1]), &s); err != nil {
		fmt.Fprintf(os.Stderr, "spec: %v\n", err)
		os.Exit(2)
	}
	if s.Kind != client.KindProduce || s.Impl != impl {
		fmt.Fprintf(os.Stderr, "this peer runs kind %q, impl %q; got %q, %q\n", client.KindProduce, impl, s.Kind, s.Impl)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := produce(ctx, s)
	if client.Emit(os.Stdout, res, err) != nil {
		os.Exit(1)
	}
}

// Linger and BatchBytes are the produce cases' settings when the spec
// leaves them zero: Java's defaults, as the other sides use.
func Linger(s client.Spec) int {
	if s.LingerMs > 0 {
		return s.LingerMs
	}
	return 5
}

func BatchBytes(s client.Spec) int {
	if s.BatchBytes > 0 {
		return int(s.BatchBytes)
	}
	return 16384
}
