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
// # Network faults
//
// WithNetworkFaults puts a TCP proxy on 127.0.0.1, in the test process, on
// every link of the cluster (both backends: containers use host networking).
// The proxies run toxiproxy's toxics (github.com/Shopify/toxiproxy/v2/toxics)
// and stay up across Stop, Kill, Start and Restart. A node's links:
//
//	link              from → to           carries                                  how it is wired
//	client:B          clients → broker B   every client request                     B advertises the proxy on its client listener
//	broker:A->B       broker A → broker B  follower fetches, txn markers            B has a listener PEER_FROM_A advertised as the proxy;
//	                                                                                 A's inter.broker.listener.name is PEER_FROM_A
//	controller:A->C   node A → controller C  KRaft votes and fetches, broker         C has a listener CTRL_FROM_A advertised as the proxy;
//	                                         registration and heartbeats              A's first controller.listener.names entry is
//	                                                                                 CTRL_FROM_A and its controller.quorum.voters
//	                                                                                 names the proxy for C
//
// The controller listeners are per source for the same reason as the broker
// ones: after an election a KRaft node dials the leader at the endpoint the
// leader advertises (BeginQuorumEpoch and Fetch answers carry it, KIP-853)
// under the node's first controller listener name, not at its voters entry.
// So a client learns only proxies from metadata and never reaches a broker
// directly, and each directed pair of nodes has its own proxy: cutting A-B
// leaves A-C and B-C alone. A node reaches itself directly. CheckHealth and
// WaitHealthy ask each broker on its real port (they observe the cluster, they
// are not clients). A 3-node cluster has 15 links (3 client, 6 broker, 6
// controller); Network.Links lists them with their counters: connections
// accepted and open, bytes delivered each way (replicated records flow To →
// From on broker links), faults on now.
//
// Cluster.Network returns the faults; each method returns once the fault is on
// every open connection of its links and on every new one, so a test can set
// a fault at a named point (after a request is sent, before its answer) and
// then observe its effect. Each is undone by Heal:
//
//	method                     links                                  toxiproxy toxic (both streams)
//	Isolate(id)                every link to or from id               timeout, timeout=0: data dropped, connections held open
//	Partition(groups...)       broker and controller links between    timeout, timeout=0
//	                           groups (nodes not named: one more group)
//	PartitionBrokers(groups...) broker links only between groups:         timeout, timeout=0
//	                           the quorum stays whole, ISRs shrink
//	CutClients(ids...)         client:id (all brokers without ids)    timeout, timeout=0
//	CutAnswers(ids...)         client:id (all brokers without ids)    timeout, timeout=0, on answers only: requests are applied,
//	                                                                  the client never learns the outcome
//	Latency(d, jitter, ids...) all links, or those to or from ids     latency (latency=d, jitter): each chunk d±jitter later, each way
//	Bandwidth(kb, ids...)      same                                   bandwidth (rate in KB/s), per connection and direction
//	ResetAfter(n, ids...)      same                                   limit_data (bytes=n): a connection closes after n bytes one way
//	Heal()                     every link                             all removed; connections that were cut are closed
//
// Network.Handler serves the same over HTTP (eosctl dev cluster
// --network-faults prints its URL as control=...).
//
// # In tests
//
// Start(t, ...) registers Close with t.Cleanup and prints the tail of every
// broker's log if the test failed. A package's tests share one cluster with
// StartShared in TestMain; a cluster that cannot start fails the suite (exit
// status 1), it never skips. eoskit keeps such suites behind the build tag
// "integration".
package integration
