#!/usr/bin/env bash
# Fetches Debezium's PostgreSQL connector and its runtime dependencies from
# Maven Central into a Kafka Connect plugin folder outside the repo, and the
# Kafka Connect runtime it is built against (for the outbox-relay benchmark
# case). Idempotent: does nothing when the folder is complete.
#   usage: build/debezium/fetch.sh [VERSION]     (prints the folder on stdout)
#   DEBEZIUM_VERSION (default 3.6.1.Final), DEBEZIUM_CONNECT_VERSION (default 4.3.0),
#   EOSKIT_DEBEZIUM_HOME (default: user cache dir)
# The connector lands in $EOSKIT_DEBEZIUM_HOME/plugins/debezium-connector-postgres
# (the worker's plugin.path is $EOSKIT_DEBEZIUM_HOME/plugins), the worker's class
# path in $EOSKIT_DEBEZIUM_HOME/connect/libs. Why not Kafka 4.4.0's own Connect: see
# connect-pom.xml (the broker stays 4.4.0).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-${DEBEZIUM_VERSION:-3.6.1.Final}}
connect=${DEBEZIUM_CONNECT_VERSION:-4.3.0}
home=${EOSKIT_DEBEZIUM_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/eoskit/debezium-$version}
plugin=plugins/debezium-connector-postgres
if [ -f "$home/.complete" ] && [ -f "$home/$plugin/debezium-connector-postgres-$version.jar" ] &&
  [ -f "$home/connect/libs/connect-runtime-$connect.jar" ]; then
  echo "$home"
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch.sh: Maven (mvn) is needed to fetch Debezium's jars: apt-get install maven" >&2; exit 1; }
mkdir -p "$(dirname "$home")"
tmp=$(mktemp -d "$home.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch.sh: resolving Debezium $version (PostgreSQL connector) with Maven into $home" >&2
mvn -q -B -f "$here/pom.xml" -Ddebezium.version="$version" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/$plugin" >&2
[ -f "$tmp/$plugin/debezium-connector-postgres-$version.jar" ] || { echo "fetch.sh: debezium-connector-postgres-$version.jar missing after Maven ran" >&2; exit 1; }
mvn -q -B -f "$here/connect-pom.xml" -Dconnect.version="$connect" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/connect/libs" >&2
[ -f "$tmp/connect/libs/connect-runtime-$connect.jar" ] || { echo "fetch.sh: connect-runtime-$connect.jar missing after Maven ran" >&2; exit 1; }
# Kafka's jars are on the worker's class path: copies of them inside the
# plugin would shadow the runtime's (a second connect-api or kafka-clients).
rm -f "$tmp/$plugin"/kafka-clients-*.jar "$tmp/$plugin"/connect-api-*.jar "$tmp/$plugin"/slf4j-api-*.jar
echo "$version" > "$tmp/.complete"
rm -rf "$home"
mv "$tmp" "$home"
trap - EXIT
echo "fetch.sh: $(ls "$home/$plugin" | wc -l) jars in $home/$plugin, $(ls "$home/connect/libs" | wc -l) in $home/connect/libs" >&2
echo "$home"
