package demo_test

import (
	"context"
	"fmt"
	"time"

	"github.com/eoskit/eoskit/internal/demo"
)

// A small demo on the embedded kfake cluster: 2000 records, 3 processors,
// one crash, verified.
func ExampleRun() {
	res, err := demo.Run(context.Background(), demo.Config{Records: 2000, StreamFor: time.Second})
	if err != nil {
		panic(err)
	}
	c := res.Verify.Counts
	fmt.Println("simulated:", res.Simulated, "crashed:", res.Crash.Processor, "replaced by:", res.Crash.Replacement)
	fmt.Println("ok:", res.OK(), "input:", c.InputRecords, "output:", c.OutputRecords, "duplicates:", c.Duplicates, "missing:", c.Missing)
	// Output:
	// simulated: true crashed: p2 replaced by: p2'
	// ok: true input: 2000 output: 2000 duplicates: 0 missing: 0
}
