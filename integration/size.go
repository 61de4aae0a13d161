package integration

import (
	"os"
	"strconv"
)

// Chaos reports whether the full-size fault runs were asked for:
// EOSKIT_CHAOS=1 (what `make chaos` sets). Suites run their CI size
// otherwise.
func Chaos() bool { return os.Getenv("EOSKIT_CHAOS") == "1" }

// ScenarioSize is the size of one fault scenario: ci in a normal run, full
// when Chaos reports true; a positive integer in the environment variable
// override (for example EOSKIT_TXN_RECORDS) replaces either. Anything else
// in override is ignored.
func ScenarioSize(override string, ci, full int) int {
	if n, err := strconv.Atoi(os.Getenv(override)); err == nil && n > 0 {
		return n
	}
	if Chaos() {
		return full
	}
	return ci
}
