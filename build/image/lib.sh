# Shared steps of eoskit's local image builds (build/image/build.sh for
# Kafka, build/postgres/image.sh for PostgreSQL): sourced, not run. The
# caller defines say and die, sets IMAGE, and adds this file to its inputs
# fingerprint (IMAGE_LIB names it).
# shellcheck shell=bash

IMAGE_LIB=${BASH_SOURCE[0]}

# img_cli sets CLI: $CONTAINER_CLI, else podman, else docker.
img_cli() {
  CLI=${CONTAINER_CLI:-}
  if [ -z "$CLI" ]; then
    if command -v podman >/dev/null 2>&1; then CLI=podman
    elif command -v docker >/dev/null 2>&1; then CLI=docker
    else die "neither podman nor docker found (run build/podman/setup.sh first)"
    fi
  fi
  command -v "$CLI" >/dev/null 2>&1 || die "$CLI not found"
}

image_exists() {
  if [ "$CLI" = podman ]; then podman image exists "$IMAGE"
  else "$CLI" image inspect "$IMAGE" >/dev/null 2>&1
  fi
}

# img_lock_or_skip LOCKNAME INPUTS takes the build lock (held until the
# script exits) and exits 0 when IMAGE exists, unless FORCE=1, warning
# when it was built from other inputs.
img_lock_or_skip() {
  local lock=${TMPDIR:-/tmp}/$1.lock inputs=$2 have
  exec 9>"$lock"
  flock -w 600 9 || die "another build holds $lock"
  if [ "${FORCE:-0}" != 1 ] && image_exists; then
    have=$("$CLI" image inspect --format '{{index .Config.Labels "org.eoskit.image.inputs"}}' "$IMAGE" 2>/dev/null || true)
    if [ -n "$have" ] && [ "$have" != "$inputs" ]; then
      say "WARNING: $IMAGE exists but was built from other inputs ($have, now $inputs); FORCE=1 rebuilds it"
    fi
    say "$IMAGE exists; skipping (FORCE=1 rebuilds)"
    exit 0
  fi
}

# img_base ROOT BUSYBOX lays out the base system: the directories, busybox
# with its applets as /bin/sh, nsswitch, empty hosts/resolv.conf/hostname
# and the loader's search path. passwd and group are the caller's.
img_base() {
  local root=$1 busybox=$2 applet
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,proc,sys,dev,run,var/tmp,tmp}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  cp "$busybox" "$root/bin/busybox"
  "$busybox" --list-full | while read -r applet; do
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || { mkdir -p "$root/$(dirname "$applet")"; ln -s /bin/busybox "$root/$applet"; }
  done
  [ -L "$root/bin/sh" ] || ln -s /bin/busybox "$root/bin/sh"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  : >"$root/etc/hosts"; : >"$root/etc/resolv.conf"; : >"$root/etc/hostname"
  printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib/aarch64-linux-gnu \
    /usr/lib/aarch64-linux-gnu /lib /usr/lib >"$root/etc/ld.so.conf"
}

# img_ldd ROOT OUT appends ldd's answer for every ELF file below ROOT (and
# the further folders given) to OUT.
img_ldd() {
  local root=$1 out=$2 f
  shift 2
  while IFS= read -r -d '' f; do
    [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    ldd "$f" 2>/dev/null >>"$out" || true
  done < <(find "$root" "$@" -type f -print0)
}

# img_copy_libs ROOT LIBS copies every library LIBS (ldd output) names into
# ROOT at the host's path (dereferenced), then runs ldconfig on ROOT.
img_copy_libs() {
  local root=$1 libs=$2 lib
  awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' "$libs" | sort -u |
  while read -r lib; do
    case "$lib" in "$root"/*) continue ;; esac
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  ldconfig -r "$root" 2>/dev/null || say "ldconfig -r failed (the loader's default paths still apply)"
}

# img_import ROOT CHANGE... imports ROOT as IMAGE with the given --change
# instructions and drops the image it replaces (FORCE=1) if unused.
img_import() {
  local root=$1 c old_id new_id
  shift
  local args=()
  [ "$CLI" = podman ] && args=(--quiet)
  for c in "$@"; do args+=(--change "$c"); done
  old_id=$("$CLI" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  tar --numeric-owner -C "$root" -c . | "$CLI" import "${args[@]}" - "$IMAGE" >/dev/null
  new_id=$("$CLI" image inspect --format '{{.Id}}' "$IMAGE")
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    "$CLI" rmi "$old_id" >/dev/null 2>&1 || true
  fi
  say "built $IMAGE (${new_id#sha256:}) in $((SECONDS - START)) s"
}
