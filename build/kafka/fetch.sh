#!/usr/bin/env bash
# Fetches Apache Kafka's broker and tools jars, with their runtime dependencies
# and a log4j2 binding, from Maven Central into a cache folder outside the repo.
# Idempotent: does nothing when the folder is complete.
#   usage: build/kafka/fetch.sh [VERSION]     (prints the folder on stdout)
#   KAFKA_VERSION (default 4.4.0), EOSKIT_KAFKA_HOME (default: user cache dir)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-${KAFKA_VERSION:-4.4.0}}
home=${EOSKIT_KAFKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/eoskit/kafka-$version}
if [ -f "$home/.complete" ] && [ -f "$home/libs/kafka_2.13-$version.jar" ]; then
  echo "$home"
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch.sh: Maven (mvn) is needed to fetch Kafka jars: apt-get install maven" >&2; exit 1; }
mkdir -p "$(dirname "$home")"
tmp=$(mktemp -d "$home.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch.sh: resolving Kafka $version jars with Maven into $home" >&2
mvn -q -B -f "$here/pom.xml" -Dkafka.version="$version" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >&2
[ -f "$tmp/libs/kafka_2.13-$version.jar" ] || { echo "fetch.sh: kafka_2.13-$version.jar missing after Maven ran" >&2; exit 1; }
echo "$version" > "$tmp/.complete"
rm -rf "$home"
mv "$tmp" "$home"
trap - EXIT
echo "fetch.sh: $(ls "$home/libs" | wc -l) jars in $home/libs" >&2
echo "$home"
