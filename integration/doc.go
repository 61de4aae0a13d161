// Package integration starts real Apache Kafka (KRaft) clusters for tests and
// development, with fault injection.
//
// A cluster has 1 node (combined broker and controller) or 3 nodes (each a
// broker and a controller of one quorum), optionally plus a dedicated
// controller (WithDedicatedController). Each cluster gets fresh ports on
// 127.0.0.1 and fresh folders, so suites can run in parallel.
//
// # Backends
//
// BackendContainers runs every node in a container through testcontainers-go
// with host networking (addresses survive restarts). It needs a Docker API:
// Docker, or podman's API service (`make podman` on Debian). The engine is
// found by the package: $DOCKER_HOST if set, else Docker's socket
// (/var/run/docker.sock) and rootless Docker's, else podman's rootful
// (/run/podman/podman.sock) and rootless ($XDG_RUNTIME_DIR/podman/podman.sock)
// sockets. For podman it sets, in its own process and only where unset,
// what testcontainers-go needs (TESTCONTAINERS_RYUK_DISABLED=true,
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1, TESTCONTAINERS_PROVIDER=podman,
// DOCKER_HOST); testcontainers reads those once, at its first call. The
// engine is printed with the backend choice. The image is
// WithImage, else $EOSKIT_KAFKA_IMAGE, else LocalImage (built by `make
// kafka-image` from the fetched jars) when present, else OfficialImage
// (apache/kafka). Any image with jars in /opt/kafka/libs and java on the PATH
// works: eoskit copies its own start script into the container.
//
// BackendProcesses runs every node as a JVM on this machine from the jars
// that `make kafka` fetched into $EOSKIT_KAFKA_HOME; faults are signals to
// the process group.
//
// Without WithBackend or $EOSKIT_BACKEND the containers backend is chosen when
// an engine answers, else processes; the choice is printed on stderr.
//
// # Lifecycle and faults
//
// StartCluster returns once the cluster is healthy (every broker registered,
// no under-replicated or offline partition, as seen by every broker). Stop
// (SIGTERM), Kill (SIGKILL), Start, Restart, Pause and Resume act on one node
// and keep its data; they do not wait for recovery: call WaitHealthy. Close
// removes everything and is safe to call twice. Cluster methods are safe for
// concurrent use.
//
// # In tests
//
// Start(t, ...) registers Close with t.Cleanup and prints the tail of every
// broker's log if the test failed. A package's tests share one cluster with
// StartShared in TestMain; a cluster that cannot start fails the suite (exit
// status 1), it never skips. eoskit keeps such suites behind the build tag
// "integration".
package integration
