package integration

// SetSignalPause makes Pause on the containers backend skip the engine's
// freezer and use its SIGSTOP fallback (on), or use the freezer again (off).
// It reports false on a backend without that fallback.
func SetSignalPause(c *Cluster, on bool) bool {
	ct, ok := c.be.(*containers)
	if !ok {
		return false
	}
	c.mu.Lock()
	ct.forceSignalPause = on
	c.mu.Unlock()
	return true
}

// ProcessRunning tells whether the process pid of this machine runs (a
// zombie does not).
func ProcessRunning(pid int) bool { return processRunning(pid) }
