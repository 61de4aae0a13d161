#!/usr/bin/env bash
# Builds a small local PostgreSQL image from Debian's postgresql package on this
# machine, without a registry (the way build/image/build.sh builds Kafka's).
#
#   build/postgres/image.sh IMAGE [VERSION]     e.g. build/postgres/image.sh \
#                                                 localhost/eoskit-postgres:15 15
#
# Needs /usr/lib/postgresql/VERSION (`make postgres` installs it). The image
# accepts the official postgres image's command line where eoskit uses it:
#   CMD postgres -c key=value ...   initialises an empty $PGDATA
#                                   (/var/lib/postgresql/data) with trust
#                                   authentication for user postgres, then
#                                   runs the server as user postgres (999)
#   /usr/lib/postgresql/VERSION     the binaries and libraries (pgoutput included)
#   /usr/share/postgresql/VERSION   the server's share files; /usr/share/zoneinfo
#   /bin/sh                         busybox (static) with its applets
# STOPSIGNAL SIGINT (fast shutdown), as the official image.
#
# Idempotent: does nothing when IMAGE exists, unless FORCE=1. Uses podman, else
# docker (CONTAINER_CLI=docker|podman to choose). Progress goes to stderr.
set -euo pipefail

say() { echo "postgres-image: $*" >&2; }
die() { echo "postgres-image: ERROR: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 IMAGE [VERSION]"
IMAGE=$1
VERSION=${2:-15}
PGLIB=/usr/lib/postgresql/$VERSION
PGSHARE=/usr/share/postgresql/$VERSION

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../image/lib.sh"
img_cli

[ -x "$PGLIB/bin/postgres" ] || die "$PGLIB/bin/postgres not found (make postgres installs Debian's postgresql package)"
[ -d "$PGSHARE" ] || die "$PGSHARE not found"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
PGFULL=$("$PGLIB/bin/postgres" --version | awk '{print $3}')
INPUTS=$( { echo "$PGFULL"; cat "$0" "$IMAGE_LIB"; "$BUSYBOX" 2>&1 | sed -n 1p; } | sha256sum | cut -c1-16)

img_lock_or_skip eoskit-postgres-image "$INPUTS"

START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eoskit-postgres-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/rootfs
say "building $IMAGE: PostgreSQL $PGFULL from $PGLIB, $CLI"

img_base "$ROOT" "$BUSYBOX"
mkdir -p "$ROOT"/usr/lib/postgresql "$ROOT"/usr/share/postgresql
cp -a "$PGLIB" "$ROOT/usr/lib/postgresql/"
cp -a "$PGSHARE" "$ROOT/usr/share/postgresql/"
# JIT (LLVM, over 100 MB) is left out: without llvmjit.so the server runs without JIT.
rm -rf "$ROOT$PGLIB/lib/llvmjit"*.so "$ROOT$PGLIB/lib/bitcode"
cp -aL /usr/share/zoneinfo "$ROOT/usr/share/zoneinfo"
cat >"$ROOT/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat >"$ROOT/etc/group" <<'GR'
root:x:0:
postgres:x:999:
nogroup:x:65534:
GR
mkdir -p "$ROOT/var/lib/postgresql/data" "$ROOT/var/run/postgresql"
chmod 700 "$ROOT/var/lib/postgresql/data"
chown -R 999:999 "$ROOT/var/lib/postgresql" "$ROOT/var/run/postgresql"
cat >"$ROOT/usr/local/bin/docker-entrypoint.sh" <<'EP'
#!/bin/sh
# eoskit's local PostgreSQL image: `postgres ARGS...` initialises an empty
# $PGDATA (trust authentication, user postgres) and runs the server.
set -e
PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ "${1:-}" = postgres ]; then
  shift
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >&2
  fi
  exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
EP
chmod 755 "$ROOT/usr/local/bin/docker-entrypoint.sh"

# Every shared library ldd names for the ELF files, at the host's path.
img_ldd "$ROOT/usr/lib/postgresql" "$WORK/libs.txt"
if grep -q 'not found' "$WORK/libs.txt"; then
  die "ldd could not resolve: $(grep 'not found' "$WORK/libs.txt" | awk '{print $1}' | sort -u | tr '\n' ' ')"
fi
img_copy_libs "$ROOT" "$WORK/libs.txt"

say "importing ($(du -sm "$ROOT" | cut -f1) MB)"
img_import "$ROOT" \
  "ENV PATH=$PGLIB/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
  'ENV PGDATA=/var/lib/postgresql/data' \
  'USER postgres' \
  'WORKDIR /var/lib/postgresql' \
  'STOPSIGNAL SIGINT' \
  'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
  'CMD ["postgres"]' \
  "LABEL org.eoskit.postgres.version=$PGFULL" \
  "LABEL org.eoskit.image.inputs=$INPUTS" \
  "LABEL org.opencontainers.image.title=eoskit-postgres"
