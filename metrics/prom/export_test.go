package prom

import "time"

// LagClock sets the clock a LagCollector ages open transactions with.
func LagClock(now func() time.Time) LagOpt { return lagOpt(func(c *lagConfig) { c.now = now }) }
