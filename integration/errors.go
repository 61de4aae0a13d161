package integration

import "errors"

var (
	// ErrInvalidOption reports an option value StartCluster cannot use.
	ErrInvalidOption = errors.New("invalid option")
	// ErrBackendUnavailable reports that the chosen backend cannot run here
	// (no container engine, no java, or no Kafka jars); the message says how to fix it.
	ErrBackendUnavailable = errors.New("backend unavailable")
	// ErrUnknownNode reports a node ID that is not part of the cluster.
	ErrUnknownNode = errors.New("unknown node")
	// ErrNotHealthy reports a cluster that did not become healthy in time.
	ErrNotHealthy = errors.New("cluster not healthy")
)
