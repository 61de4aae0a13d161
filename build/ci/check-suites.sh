#!/usr/bin/env bash
# Fails unless every real-broker suite ran, on the backend it was run for, and
# nothing was skipped. Each suite's TestMain prints
#   eoskit-suite: NAME backend=B ...
# (integration.AnnounceSuite) once its cluster is up. A backend that could not
# run at all has LOG_DIR/BACKEND.unavailable holding the reason (make
# test-brokers writes it); its suites are failures that name that reason.
#   usage: check-suites.sh LOG_DIR
set -euo pipefail
dir=${1:?usage: check-suites.sh LOG_DIR}
status=0
declare -A notrun=()  # backend -> names of what did not run on it (an unavailable backend only)
# missed BACKEND NAME MESSAGE: a failure; for an unavailable backend only NAME
# is collected, for one line with the reason below.
missed() {
  status=1
  if [ -s "$dir/$1.unavailable" ]; then notrun[$1]+=" $2"; return; fi
  echo "check-suites: $3" >&2
}
# name: backends it must have run on
required=(
  "integration:containers processes"
  "admin:containers"
  "producer:containers"
  "consumer:containers"
  "txn:containers"
  "verify:containers"
  "metrics:containers"
  "security:containers"
  "bench:containers"
  "sink:containers"
  "outbox:containers"
)
for entry in "${required[@]}"; do
  name=${entry%%:*}
  for backend in ${entry#*:}; do
    if ! grep -q "^eoskit-suite: $name backend=$backend " "$dir/$backend.log" 2>/dev/null; then
      missed "$backend" "$name" "real-broker suite '$name' did not run on backend $backend (see $dir/$backend.log)"
    fi
  done
done
# Real-broker tests outside a suite (each starts its own cluster), and the
# benchmark's peer clients (sarama, confluent-kafka-go: built with cgo): they
# must have passed.
required_tests=(
  "containers:TestPeers"
  "containers:TestTopicsCLIOnBroker"
  "containers:TestEOSCLIOnBroker"
  "containers:TestACLsCLIOnSecuredBroker"
  "containers:TestOpsCLIOnBroker"
  "containers:TestNetworkFaults"
  "processes:TestNetworkFaults"
  "containers:TestDevClusterNetworkFaultsOnBroker"
  "containers:TestNetworkFaultsExactlyOnce"
  "containers:TestOutboxFaultsExactlyOnce"
)
for entry in "${required_tests[@]}"; do
  backend=${entry%%:*}
  name=${entry#*:}
  if ! grep -q -- "^--- PASS: $name " "$dir/$backend.log" 2>/dev/null; then
    missed "$backend" "$name" "real-broker test $name did not pass on backend $backend"
  fi
done
for backend in "${!notrun[@]}"; do
  echo "check-suites: the $backend backend could not run ($(head -n 1 "$dir/$backend.unavailable")), so these suites and tests did not run:${notrun[$backend]}" >&2
done
for log in "$dir"/*.log; do
  [ -e "$log" ] || continue
  if grep -n -- "--- SKIP" "$log" >&2; then
    echo "check-suites: skipped tests in $log: a real-broker suite must fail, not skip" >&2
    status=1
  fi
done
# What each failed test logged (its file:line lines, each cut to 400
# characters, at most 60 a log), printed last so that a CI excerpt that
# shows only the end of the output still shows why.
for log in "$dir"/*.log; do
  [ -e "$log" ] || continue
  grep -q -- "--- FAIL" "$log" || continue
  echo "check-suites: what the failed tests in $log logged:" >&2
  awk '
    /^=== (RUN|CONT|PAUSE|NAME) / { cur = $3; next }
    /^ +[A-Za-z0-9_]+\.go:[0-9]+: / { if (cur != "") logged[cur] = logged[cur] substr($0, 1, 400) "\n"; next }
    /--- FAIL: / { sub(/^ *--- FAIL: /, ""); failed[++n] = $1 }
    END { for (i = 1; i <= n; i++) if (failed[i] in logged) printf "--- FAIL: %s\n%s", failed[i], logged[failed[i]] }
  ' "$log" | head -n 60 >&2
done
[ $status -eq 0 ] && echo "check-suites: every real-broker suite ran on its backends, none skipped"
exit $status
