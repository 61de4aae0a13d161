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

CLI=${CONTAINER_CLI:-}
if [ -z "$CLI" ]; then
  if command -v podman >/dev/null 2>&1; then CLI=podman
  elif command -v docker >/dev/null 2>&1; then CLI=docker
  else die "neither podman nor docker found (run build/podman/setup.sh first)"
  fi
fi
image_exists() {
  if [ "$CLI" = podman ]; then podman image exists "$IMAGE"
  else "$CLI" image inspect "$IMAGE" >/dev/null 2>&1
  fi
}

[ -x "$PGLIB/bin/postgres" ] || die "$PGLIB/bin/postgres not found (make postgres installs Debian's postgresql package)"
[ -d "$PGSHARE" ] || die "$PGSHARE not found"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
PGFULL=$("$PGLIB/bin/postgres" --version | awk '{print $3}')
INPUTS=$( { echo "$PGFULL"; cat "$0"; "$BUSYBOX" 2>&1 | sed -n 1p; } | sha256sum | cut -c1-16)

LOCK=${TMPDIR:-/tmp}/eoskit-postgres-image.lock
exec 9>"$LOCK"
flock -w 600 9 || die "another build holds $LOCK"
if [ "${FORCE:-0}" != 1 ] && image_exists; then
  have=$("$CLI" image inspect --format '{{index .Config.Labels "org.eoskit.image.inputs"}}' "$IMAGE" 2>/dev/null || true)
  if [ -n "$have" ] && [ "$have" != "$INPUTS" ]; then
    say "WARNING: $IMAGE exists but was built from other inputs ($have, now $INPUTS); FORCE=1 rebuilds it"
  fi
  say "$IMAGE exists; skipping (FORCE=1 rebuilds)"
  exit 0
fi

START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eoskit-postgres-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/rootfs
say "building $IMAGE: PostgreSQL $PGFULL from $PGLIB, $CLI"

mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,usr/lib/postgresql,usr/share/postgresql,etc,root,proc,sys,dev,run,var/tmp,tmp}
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
cp -a "$PGLIB" "$ROOT/usr/lib/postgresql/"
cp -a "$PGSHARE" "$ROOT/usr/share/postgresql/"
# JIT (LLVM, over 100 MB) is left out: without llvmjit.so the server runs without JIT.
rm -rf "$ROOT$PGLIB/lib/llvmjit"*.so "$ROOT$PGLIB/lib/bitcode"
cp -aL /usr/share/zoneinfo "$ROOT/usr/share/zoneinfo"
cp "$BUSYBOX" "$ROOT/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
  [ -e "$ROOT/$applet" ] || [ -L "$ROOT/$applet" ] || { mkdir -p "$ROOT/$(dirname "$applet")"; ln -s /bin/busybox "$ROOT/$applet"; }
done
[ -L "$ROOT/bin/sh" ] || ln -s /bin/busybox "$ROOT/bin/sh"
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
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
: >"$ROOT/etc/hosts"; : >"$ROOT/etc/resolv.conf"; : >"$ROOT/etc/hostname"
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
: >"$WORK/libs.txt"
while IFS= read -r -d '' f; do
  [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
  ldd "$f" 2>/dev/null >>"$WORK/libs.txt" || true
done < <(find "$ROOT/usr/lib/postgresql" -type f -print0)
if grep -q 'not found' "$WORK/libs.txt"; then
  die "ldd could not resolve: $(grep 'not found' "$WORK/libs.txt" | awk '{print $1}' | sort -u | tr '\n' ' ')"
fi
awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' "$WORK/libs.txt" | sort -u |
while read -r lib; do
  [ -e "$ROOT$lib" ] && continue
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done
printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib/aarch64-linux-gnu \
  /usr/lib/aarch64-linux-gnu /lib /usr/lib >"$ROOT/etc/ld.so.conf"
ldconfig -r "$ROOT" 2>/dev/null || say "ldconfig -r failed (the loader's default paths still apply)"

say "importing ($(du -sm "$ROOT" | cut -f1) MB)"
quiet=(); [ "$CLI" = podman ] && quiet=(--quiet)
old_id=$("$CLI" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
tar --numeric-owner -C "$ROOT" -c . | "$CLI" import "${quiet[@]}" \
  --change "ENV PATH=$PGLIB/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'USER postgres' \
  --change 'WORKDIR /var/lib/postgresql' \
  --change 'STOPSIGNAL SIGINT' \
  --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
  --change 'CMD ["postgres"]' \
  --change "LABEL org.eoskit.postgres.version=$PGFULL" \
  --change "LABEL org.eoskit.image.inputs=$INPUTS" \
  --change "LABEL org.opencontainers.image.title=eoskit-postgres" \
  - "$IMAGE" >/dev/null
new_id=$("$CLI" image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  "$CLI" rmi "$old_id" >/dev/null 2>&1 || true
fi
say "built $IMAGE (${new_id#sha256:}) in $((SECONDS - START)) s"
