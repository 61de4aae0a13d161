# eoskit: exactly-once processing on Apache Kafka, the easy default.
# `make demo` runs the main job; `make test` runs every test, real brokers included.

KAFKA_VERSION ?= 4.4.0
# Where `make kafka` puts the jars (outside the repo); the integration package reads the same variable.
EOSKIT_KAFKA_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/eoskit/kafka-$(KAFKA_VERSION)
KAFKA_IMAGE ?= localhost/eoskit-kafka:$(KAFKA_VERSION)
# PostgreSQL major version of `make postgres-image` (integration.PostgresVersion must match).
POSTGRES_VERSION ?= 15
export EOSKIT_KAFKA_HOME

SHELL := /bin/bash
GO ?= go
TEST_LOG_DIR ?= $(CURDIR)/.test-logs
# Packages whose real-broker suites (build tag "integration") must run on both backends.
BROKER_SUITES ?= ./integration/

.PHONY: all build demo test test-unit test-brokers test-containers test-processes chaos bench lint kafka kafka-image postgres postgres-image debezium podman clean

all: lint test-unit build

build: ## bin/eosctl
	$(GO) build -o bin/eosctl ./cmd/eosctl

demo: build ## run the zero-setup exactly-once demo
	./bin/eosctl demo

test: lint test-unit test-brokers ## everything, real brokers included (what CI runs); sets up what it needs

test-unit: ## fast tests, no broker, with the race detector
	$(GO) test -race -count=1 ./...

# The engine step sets podman up when no container engine answers and this is
# root on Debian; otherwise it says what to install and the containers suites
# are recorded as not run (with the reason, in containers.unavailable). The
# processes suites run either way; check-suites fails on every suite that did not run.
# SUBMAKE, not $(MAKE), in the recipe: `make -n test` then prints it instead of
# running the engine set-up.
SUBMAKE = $(MAKE)
test-brokers: kafka postgres ## container engine (set up if needed), image, real-broker suites on both backends, then a check that they all ran
	@mkdir -p $(TEST_LOG_DIR)
	@rm -f $(TEST_LOG_DIR)/containers.log $(TEST_LOG_DIR)/processes.log $(TEST_LOG_DIR)/*.unavailable
	@status=0; \
	if why=$$(build/podman/setup.sh --if-needed); then \
	  if $(SUBMAKE) kafka-image postgres-image; then \
	    $(SUBMAKE) test-containers || status=1; \
	  else why="make kafka-image postgres-image failed (its error is above)"; fi; \
	else why=$${why:-"the container engine set-up failed (build/podman/setup.sh --if-needed: its error is above)"}; \
	fi; \
	if [ -n "$$why" ]; then \
	  echo "eoskit: the containers suites cannot run: $$why" >&2; \
	  echo "$$why" >$(TEST_LOG_DIR)/containers.unavailable; status=1; \
	fi; \
	$(SUBMAKE) test-processes || status=1; \
	build/ci/check-suites.sh $(TEST_LOG_DIR) || status=1; \
	exit $$status

test-containers: ## real-broker suites in containers (needs a Docker API: Docker, or `make podman`)
	@mkdir -p $(TEST_LOG_DIR)
	set -o pipefail; EOSKIT_BACKEND=containers EOSKIT_KAFKA_IMAGE=$(KAFKA_IMAGE) \
	  $(GO) test -tags integration -count=1 -p 1 -timeout 40m -v ./... 2>&1 | tee $(TEST_LOG_DIR)/containers.log

test-processes: kafka ## real-broker suites as local JVMs (needs Java 17+ and the jars)
	@mkdir -p $(TEST_LOG_DIR)
	set -o pipefail; EOSKIT_BACKEND=processes \
	  $(GO) test -tags integration -count=1 -p 1 -timeout 40m -v $(BROKER_SUITES) 2>&1 | tee $(TEST_LOG_DIR)/processes.log

chaos: kafka kafka-image postgres-image ## full-size exactly-once suites: txn 100k records per scenario, 3 seeds (~40 min; EOSKIT_CHAOS_SEEDS=1: ~15 min); postgres/sink 30k records per scenario, postgres/outbox 30k messages per scenario
	@mkdir -p $(TEST_LOG_DIR)
	set -o pipefail; EOSKIT_CHAOS=1 EOSKIT_BACKEND=containers EOSKIT_KAFKA_IMAGE=$(KAFKA_IMAGE) \
	  $(GO) test -tags integration -count=1 -p 1 -timeout 180m -v -run 'TestExactlyOnce|TestAtLeastOnce|TestNetworkFaultsExactlyOnce|TestOutboxFaultsExactlyOnce' ./txn/ ./postgres/sink/ ./postgres/outbox/ 2>&1 | tee $(TEST_LOG_DIR)/chaos.log

bench: kafka postgres debezium ## eoskit vs Kafka's Java tools, raw franz-go, sarama and confluent-kafka-go on one broker (~25 min; tables in bench/results/); BENCH_ARGS="--records 300000 --txn-versions 2" for a shorter run
	$(GO) run ./bench/cmd/eosbench $(BENCH_ARGS)

lint: ## gofmt check and go vet (with and without the integration tag)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	cd bench/peers && $(GO) vet ./...

kafka: ## fetch Apache Kafka's jars from Maven Central into EOSKIT_KAFKA_HOME
	@build/kafka/fetch.sh $(KAFKA_VERSION) >/dev/null

kafka-image: kafka ## build the local image (official apache/kafka layout) from the same jars
	build/image/build.sh $(EOSKIT_KAFKA_HOME) $(KAFKA_IMAGE)

postgres: ## PostgreSQL server binaries for the processes backend: Debian's postgresql package when initdb is missing (root, apt-get)
	@build/postgres/install.sh >/dev/null

debezium: ## fetch Debezium's PostgreSQL connector (3.6.1.Final) and the Kafka Connect it is built against (4.3.0) from Maven Central into $$EOSKIT_DEBEZIUM_HOME (default ~/.cache/eoskit/debezium-3.6.1.Final), for the bench's outbox-relay case
	@build/debezium/fetch.sh >/dev/null

postgres-image: postgres ## build localhost/eoskit-postgres:$(POSTGRES_VERSION) from the installed package (no registry needed)
	build/postgres/image.sh localhost/eoskit-postgres:$(POSTGRES_VERSION) $(POSTGRES_VERSION)

podman: ## install and start podman's Docker API service (Debian, root); `make test` does this itself when no engine answers
	build/podman/setup.sh

clean:
	rm -rf bin $(TEST_LOG_DIR)
