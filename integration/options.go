package integration

import (
	"fmt"
	"log/slog"
	"os"
	"time"
)

// DefaultKafkaVersion is the Apache Kafka release eoskit tests against. The
// Makefile's KAFKA_VERSION must match it.
const DefaultKafkaVersion = "4.4.0"

// Backend names how broker nodes are run.
type Backend string

const (
	// BackendContainers runs each broker in a container through testcontainers-go
	// (Docker, or podman's Docker API).
	BackendContainers Backend = "containers"
	// BackendProcesses runs each broker as a local JVM started from the jars that
	// `make kafka` fetched.
	BackendProcesses Backend = "processes"
)

// Environment variables read when the corresponding option is not given.
const (
	EnvBackend   = "EOSKIT_BACKEND"     // containers | processes (default: automatic)
	EnvImage     = "EOSKIT_KAFKA_IMAGE" // container image (default: see Image)
	EnvKafkaHome = "EOSKIT_KAFKA_HOME"  // folder with libs/ (default: user cache dir)
)

// Option configures StartCluster.
type Option func(*config)

type config struct {
	brokers         int
	backend         Backend
	kafkaVersion    string
	image           string
	kafkaHome       string
	txnVersion      int
	brokerConfigs   map[string]string
	groupProtocols  []string
	logger          *slog.Logger
	startTimeout    time.Duration
	heap            string
	backendExplicit bool

	dedicatedController bool
	secure              bool
	authorizer          bool
	networkFaults       bool
}

func defaultConfig() config {
	return config{
		brokers:       1,
		kafkaVersion:  DefaultKafkaVersion,
		txnVersion:    2,
		brokerConfigs: map[string]string{},
		logger:        slog.New(slog.DiscardHandler),
		startTimeout:  2 * time.Minute,
	}
}

// WithNodes sets the number of Kafka nodes: 1 (one combined
// broker+controller) or 3 (three combined nodes forming one KRaft quorum).
// Default 1.
func WithNodes(n int) Option { return func(c *config) { c.brokers = n } }

// WithDedicatedController runs the KRaft quorum on one extra controller-only
// node (ID ControllerNodeID) instead of on the brokers. The brokers can then
// all fail while the controller keeps shrinking ISRs, as in production
// layouts: with two of three brokers down, acks=all produce to a topic with
// min.insync.replicas=2 fails with NOT_ENOUGH_REPLICAS instead of timing out
// for lack of a quorum.
func WithDedicatedController() Option { return func(c *config) { c.dedicatedController = true } }

// ControllerNodeID is the node ID of the dedicated controller.
const ControllerNodeID int32 = 100

// WithBackend chooses the backend instead of the automatic choice (or $EOSKIT_BACKEND).
func WithBackend(b Backend) Option {
	return func(c *config) { c.backend = b; c.backendExplicit = true }
}

// WithKafkaVersion sets the Kafka version; it selects the default image tag and
// the default jar folder. Default DefaultKafkaVersion.
func WithKafkaVersion(v string) Option { return func(c *config) { c.kafkaVersion = v } }

// WithImage sets the container image (containers backend). It must have the
// official apache/kafka layout: jars in /opt/kafka/libs and java on the PATH.
func WithImage(image string) Option { return func(c *config) { c.image = image } }

// WithKafkaHome sets the folder holding libs/ with the Kafka jars (processes backend).
func WithKafkaHome(dir string) Option { return func(c *config) { c.kafkaHome = dir } }

// WithTransactionVersion picks the transaction protocol the cluster is formatted
// with: 1 (classic) or 2 (KIP-890 part 2). Default 2.
func WithTransactionVersion(v int) Option { return func(c *config) { c.txnVersion = v } }

// WithBrokerConfig sets one broker property on every node, overriding eoskit's
// defaults (for example "log.segment.bytes").
func WithBrokerConfig(key, value string) Option {
	return func(c *config) { c.brokerConfigs[key] = value }
}

// WithGroupProtocols sets group.coordinator.rebalance.protocols, e.g. "classic"
// to disable the KIP-848 consumer protocol. Default: the broker's (classic,consumer,...).
func WithGroupProtocols(protocols ...string) Option {
	return func(c *config) { c.groupProtocols = protocols }
}

// WithLogger receives progress messages (backend choice, node starts, faults).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithStartTimeout bounds how long StartCluster waits for a healthy cluster. Default 2m.
func WithStartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// WithHeap sets the broker JVM heap flags, e.g. "-Xms512m -Xmx1g".
func WithHeap(flags string) Option { return func(c *config) { c.heap = flags } }

func (c *config) validate() error {
	if c.brokers != 1 && c.brokers != 3 {
		return fmt.Errorf("integration: %d nodes requested: use WithNodes(1) or WithNodes(3): %w", c.brokers, ErrInvalidOption)
	}
	if c.txnVersion != 1 && c.txnVersion != 2 {
		return fmt.Errorf("integration: transaction.version %d: use 1 or 2: %w", c.txnVersion, ErrInvalidOption)
	}
	if c.backend != "" && c.backend != BackendContainers && c.backend != BackendProcesses {
		return fmt.Errorf("integration: unknown backend %q: use %q or %q: %w", c.backend, BackendContainers, BackendProcesses, ErrInvalidOption)
	}
	if c.authorizer && !c.secure {
		return fmt.Errorf("integration: WithAuthorizer needs WithSASLSSL (on PLAINTEXT every client is a super user): %w", ErrInvalidOption)
	}
	if c.networkFaults && c.secure {
		return fmt.Errorf("integration: WithNetworkFaults does not proxy the SASL_SSL and SSL listeners of WithSASLSSL yet: use one of them: %w", ErrInvalidOption)
	}
	if c.startTimeout <= 0 {
		return fmt.Errorf("integration: start timeout must be positive: %w", ErrInvalidOption)
	}
	return nil
}

// applyEnv fills what options left empty from the environment.
func (c *config) applyEnv() {
	if c.backend == "" {
		c.backend = Backend(os.Getenv(EnvBackend))
	}
	if c.image == "" {
		c.image = os.Getenv(EnvImage)
	}
	if c.kafkaHome == "" {
		c.kafkaHome = os.Getenv(EnvKafkaHome)
	}
	if c.kafkaHome == "" {
		c.kafkaHome = DefaultKafkaHome(c.kafkaVersion)
	}
}
