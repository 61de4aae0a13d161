#!/bin/sh
# eoskit broker start script: one script for both backends.
# Containers (eoskit's local image or the official apache/kafka image): KAFKA_HOME=/opt/kafka.
# Processes: KAFKA_HOME is the folder that `make kafka` filled.
# Usage: start.sh NODE_DIR    (NODE_DIR holds node.properties, log4j2.properties, cluster.id,
#                              features, and for secured clusters scram, broker.pem, ca.pem)
set -euf  # -f: no globbing (SCRAM arguments contain brackets)
node_dir=$1
kafka_home=${KAFKA_HOME:-/opt/kafka}
cp="$kafka_home/libs/*"
log4j="-Dlog4j2.configurationFile=$node_dir/log4j2.properties"
heap=${EOSKIT_BROKER_HEAP:--Xms256m -Xmx768m}
for f in node.properties cluster.id; do
  [ -s "$node_dir/$f" ] || { echo "eoskit start.sh: $node_dir/$f is missing or empty" >&2; exit 1; }
done
features=""
if [ -s "$node_dir/features" ]; then
  for f in $(cat "$node_dir/features"); do features="$features --feature $f"; done
fi
if [ -s "$node_dir/scram" ]; then
  for s in $(cat "$node_dir/scram"); do features="$features --add-scram $s"; done
fi
# -g: a restarted broker keeps its formatted log dirs.
# shellcheck disable=SC2086
java $log4j -cp "$cp" kafka.tools.StorageTool format -g \
  -t "$(cat "$node_dir/cluster.id")" -c "$node_dir/node.properties" $features
# shellcheck disable=SC2086
exec java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true ${EOSKIT_BROKER_JVM_OPTS:-} \
  $log4j -cp "$cp" kafka.Kafka "$node_dir/node.properties"
