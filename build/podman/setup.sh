#!/usr/bin/env bash
# Makes podman serve the Docker API on this machine for testcontainers-go.
#
# For Debian 12 machines without a Docker engine (see containers.md in the project
# notes): installs podman and friends if missing, writes /etc/containers/{containers,
# storage}.conf, starts `podman system service` on /run/podman/podman.sock, removes
# containers and networks that earlier test runs left behind (label
# org.testcontainers=true; the reaper is disabled), then prints on stdout the
# environment a caller should export, one KEY=VALUE per line:
#
#   set -a; eval "$(build/podman/setup.sh)"; set +a
#
# Nothing in eoskit needs that environment: the integration package finds the
# engine (and applies podman's settings) by itself. It is printed for other
# testcontainers users.
#
# Idempotent and safe to re-run. Progress goes to stderr. If a real Docker engine
# answers on /var/run/docker.sock it says so and changes nothing (prints nothing).
#
#   build/podman/setup.sh --if-needed
#
# is what `make test` runs: when any container engine already answers
# ($DOCKER_HOST, Docker's or rootless Docker's sockets, podman's rootful or
# rootless socket: the places the integration package looks) it changes nothing;
# else, as root on Debian, it sets podman up as above (never prompting: stdin is
# /dev/null, apt runs non-interactive) without removing any container; else it
# prints one line on stdout saying what to install and exits 3. It prints no
# environment.
#
# Environment knobs:
#   EOSKIT_STORAGE_DRIVER=overlay|vfs  force the storage driver (default: the driver
#                                      already in use, else overlay if a test mount
#                                      works, else vfs)
#   EOSKIT_PODMAN_LOG=FILE             service log (default /var/log/eoskit-podman.log)
#   EOSKIT_FORCE_PODMAN=1              set up podman even if Docker is present
#   EOSKIT_NO_CLEANUP=1                keep leftover testcontainers containers
set -euo pipefail

IF_NEEDED=0
case "${1:-}" in
  "") ;;
  --if-needed) IF_NEEDED=1 ;;
  *) echo "usage: $0 [--if-needed]" >&2; exit 2 ;;
esac

SOCK_DIR=/run/podman
SOCK=$SOCK_DIR/podman.sock
PIDFILE=$SOCK_DIR/eoskit-podman.pid
LOG=${EOSKIT_PODMAN_LOG:-/var/log/eoskit-podman.log}
CONF_DIR=/etc/containers
GRAPHROOT=/var/lib/containers/storage
RUNROOT=/run/containers/storage
MARKER="# Managed by eoskit build/podman/setup.sh"
PACKAGES=(podman runc catatonit conmon netavark aardvark-dns iptables busybox-static curl)

say() { echo "podman-setup: $*" >&2; }
die() { echo "podman-setup: ERROR: $*" >&2; exit 1; }

ping_sock() { # $1 = socket path; true when the API answers _ping with OK
  [ -S "$1" ] || return 1
  [ "$(curl -fsS --max-time 3 --unix-socket "$1" http://d/_ping 2>/dev/null)" = OK ]
}

print_env() {
  [ $IF_NEEDED = 0 ] || return 0
  echo "DOCKER_HOST=unix://$SOCK"
  echo "TESTCONTAINERS_RYUK_DISABLED=true"
  echo "TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1"
}

# ---------------------------------------------------------------- --if-needed
if [ $IF_NEEDED = 1 ]; then
  exec </dev/null  # never wait for a prompt (CI has no stdin)
  export DEBIAN_FRONTEND=noninteractive
  EOSKIT_NO_CLEANUP=1  # containers that run now belong to someone: keep them
  answers() { # $1 = unix socket path
    if command -v curl >/dev/null 2>&1; then ping_sock "$1"
    elif command -v docker >/dev/null 2>&1; then [ -S "$1" ] && docker -H "unix://$1" info >/dev/null 2>&1
    elif command -v podman >/dev/null 2>&1; then [ -S "$1" ] && podman --url "unix://$1" info >/dev/null 2>&1
    else return 1
    fi
  }
  if [ -n "${DOCKER_HOST:-}" ]; then
    case "$DOCKER_HOST" in
      unix://*)
        if answers "${DOCKER_HOST#unix://}"; then
          say "a container engine answers on \$DOCKER_HOST=$DOCKER_HOST; nothing to set up"; exit 0
        fi
        echo "no container engine answers on DOCKER_HOST=$DOCKER_HOST: start that engine, or unset DOCKER_HOST"
        exit 3 ;;
      *) say "DOCKER_HOST=$DOCKER_HOST is set; using it as is"; exit 0 ;;
    esac
  fi
  uid=$(id -u)
  cands=(/var/run/docker.sock)
  [ -z "${XDG_RUNTIME_DIR:-}" ] || cands+=("$XDG_RUNTIME_DIR/docker.sock")
  [ -z "${HOME:-}" ] || cands+=("$HOME/.docker/run/docker.sock" "$HOME/.docker/desktop/docker.sock")
  [ "$uid" = 0 ] || cands+=("/run/user/$uid/docker.sock")
  cands+=("$SOCK")
  if [ -n "${XDG_RUNTIME_DIR:-}" ]; then cands+=("$XDG_RUNTIME_DIR/podman/podman.sock")
  elif [ "$uid" != 0 ]; then cands+=("/run/user/$uid/podman/podman.sock")
  fi
  for c in "${cands[@]}"; do
    if answers "$c"; then say "a container engine answers on $c; nothing to set up"; exit 0; fi
  done
  if [ "$uid" != 0 ] || [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    if [ "$uid" != 0 ] && command -v podman >/dev/null 2>&1; then
      echo "no container engine answers (tried ${cands[*]}): start podman's API service (systemctl --user start podman.socket), install Docker, or run as root on Debian"
    else
      echo "no container engine answers (tried ${cands[*]}): install Docker or podman, or run as root on Debian"
    fi
    exit 3
  fi
  say "no container engine answers (tried ${cands[*]}); setting podman up"
fi

# ---------------------------------------------------------------- Docker engine?
docker_engine() { # true when a real Docker engine (not podman) answers on docker.sock
  local ver
  [ -S /var/run/docker.sock ] || return 1
  if command -v curl >/dev/null 2>&1; then
    ver=$(curl -fsS --max-time 3 --unix-socket /var/run/docker.sock http://d/version 2>/dev/null) || return 1
  elif command -v docker >/dev/null 2>&1; then
    ver=$(docker -H unix:///var/run/docker.sock version \
          --format '{{range .Server.Components}}{{.Name}} {{end}}' 2>/dev/null) || return 1
  else
    return 1
  fi
  [ -n "$ver" ] && [[ "$ver" != *"Podman Engine"* ]] || return 1
  ! command -v docker >/dev/null 2>&1 || docker -H unix:///var/run/docker.sock info >/dev/null 2>&1
}
if [ "${EOSKIT_FORCE_PODMAN:-0}" != 1 ] && docker_engine; then
  say "a Docker engine answers on /var/run/docker.sock; nothing to do (use it as is)"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  if ping_sock "$SOCK"; then
    say "not root, but $SOCK answers; printing the environment only"
    print_env
    exit 0
  fi
  die "must run as root (installs packages, writes $CONF_DIR, starts the service)"
fi

# One setup at a time (parallel make targets, two terminals).
mkdir -p "$SOCK_DIR"
exec 9>"$SOCK_DIR/eoskit-setup.lock"
flock -w 300 9 || die "another setup.sh holds $SOCK_DIR/eoskit-setup.lock"

# ---------------------------------------------------------------- packages
missing=()
for p in "${PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
else
  say "packages present"
fi

# ---------------------------------------------------------------- limits
# podman's default rlimits (nofile 1048576, nproc 4194304) exceed this VM's hard
# limits and cannot be raised without CAP_SYS_RESOURCE: stay at or below them.
cap_limit() { # $1 = hard limit (number or "unlimited"), $2 = wanted
  if [ "$1" = unlimited ] || [ "$1" -ge "$2" ]; then echo "$2"; else echo "$1"; fi
}
NOFILE=$(cap_limit "$(ulimit -Hn)" 16384)
# podman 4.3 also lowers its own RLIMIT_NPROC to 32768 (soft and hard) at start,
# so a container cannot get more than that either.
NPROC=$(cap_limit "$(ulimit -Hu)" 32768)

# ---------------------------------------------------------------- storage driver
overlay_works() {
  local d
  mkdir -p "$GRAPHROOT"
  d=$(mktemp -d "$GRAPHROOT/.eoskit-ovl-probe.XXXXXX") || return 1
  mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
  echo x >"$d/l/f"
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    echo y >"$d/m/f" && umount "$d/m" && rm -rf "$d" && return 0
    umount "$d/m" 2>/dev/null || true
  fi
  rm -rf "$d"
  return 1
}
current_driver() { # the driver an existing store was created with, if any
  if [ -f "$CONF_DIR/storage.conf" ]; then
    sed -n 's/^[[:space:]]*driver[[:space:]]*=[[:space:]]*"\([a-z]*\)".*/\1/p' "$CONF_DIR/storage.conf" | sed -n 1p
  elif [ -d "$GRAPHROOT/overlay-images" ]; then echo overlay
  elif [ -d "$GRAPHROOT/vfs-images" ]; then echo vfs
  fi
}
DRIVER=${EOSKIT_STORAGE_DRIVER:-$(current_driver)}
case "$DRIVER" in
  overlay|vfs) ;;
  "") if overlay_works; then DRIVER=overlay; else DRIVER=vfs; fi ;;
  *) say "storage driver '$DRIVER' kept as configured" ;;
esac
for other in overlay vfs; do
  if [ "$other" != "$DRIVER" ] && [ -d "$GRAPHROOT/$other-images" ] \
     && [ ! -d "$GRAPHROOT/$DRIVER-images" ]; then
    die "$GRAPHROOT holds a '$other' store but driver '$DRIVER' was asked for;" \
        "run 'podman system reset -f' first (deletes all images and containers)"
  fi
done

# ---------------------------------------------------------------- config files
CONTAINERS_CONF="$MARKER
# (podman as the Docker API for testcontainers; no systemd, cgroup v1, root).
[containers]
# At or below the hard limits of the shell that ran setup.sh (ulimit -Hn / -Hu)
# and nproc at most 32768 (podman caps its own RLIMIT_NPROC there).
default_ulimits = [
  \"nofile=$NOFILE:$NOFILE\",
  \"nproc=$NPROC:$NPROC\",
]
log_driver = \"k8s-file\"
init_path = \"/usr/libexec/podman/catatonit\"

[network]
network_backend = \"netavark\"

[engine]
# crun fails here (\"cgroups in hybrid mode not supported\").
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
# The default 300 s keeps a conmon per exec alive for five minutes.
exit_command_delay = 10
"
STORAGE_CONF="$MARKER
[storage]
driver = \"$DRIVER\"
runroot = \"$RUNROOT\"
graphroot = \"$GRAPHROOT\"
"
if [ "$DRIVER" = overlay ]; then
  STORAGE_CONF+="
[storage.options.overlay]
mountopt = \"nodev\"
"
fi

CHANGED=0
# Writes $2 to $1 unless it is already identical. A file not written by this
# script is kept when it already holds the settings that matter ($3: grep -E
# patterns, all required); otherwise it is saved as FILE.eoskit-bak first.
write_conf() {
  local f=$1 content=$2; shift 2
  if [ -f "$f" ] && [ "$(cat "$f")" = "$(printf '%s' "$content")" ]; then
    return 0
  fi
  if [ -f "$f" ] && ! grep -qF "$MARKER" "$f"; then
    local ok=1 pat
    for pat in "$@"; do grep -Eq "$pat" "$f" || { ok=0; break; }; done
    if [ $ok = 1 ]; then
      say "keeping $f (not ours, but it has the needed settings)"
      return 0
    fi
    cp -p "$f" "$f.eoskit-bak"
    say "saved the previous $f as $f.eoskit-bak"
  fi
  mkdir -p "$(dirname "$f")"
  printf '%s' "$content" >"$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
  say "wrote $f"
  CHANGED=1
}
write_conf "$CONF_DIR/containers.conf" "$CONTAINERS_CONF" \
  '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' \
  '^[[:space:]]*cgroup_manager[[:space:]]*=[[:space:]]*"cgroupfs"' \
  '^[[:space:]]*events_logger[[:space:]]*=[[:space:]]*"file"' \
  '^[[:space:]]*exit_command_delay[[:space:]]*=' \
  'nofile='
write_conf "$CONF_DIR/storage.conf" "$STORAGE_CONF" \
  '^[[:space:]]*driver[[:space:]]*='
say "storage driver $DRIVER, ulimits nofile=$NOFILE nproc=$NPROC"

# ---------------------------------------------------------------- API service
our_pid() { # pid of the service this script started, if it still runs
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] \
    && [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"podman system service"* ]] \
    && echo "$pid"
}

if ping_sock "$SOCK" && [ $CHANGED = 1 ]; then
  if pid=$(our_pid); then
    say "configuration changed: restarting the API service (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
  else
    say "WARNING: configuration changed but $SOCK is served by a process this script" \
        "did not start; restart it to apply the change"
  fi
fi

if ping_sock "$SOCK"; then
  say "API already answers on $SOCK"
else
  if pid=$(our_pid); then kill "$pid" 2>/dev/null || true; sleep 1; fi
  rm -f "$SOCK"
  mkdir -p "$(dirname "$LOG")" 2>/dev/null || true
  touch "$LOG" 2>/dev/null || LOG=/tmp/eoskit-podman.log
  say "starting podman system service on $SOCK (log $LOG)"
  # setsid: survive the caller's process group and terminal.
  # 9>&-: the service must not inherit (and hold) the setup lock.
  # cd /: conmon fails ("Failed to get working directory", every start then
  # "write child: broken pipe") once the caller's folder is deleted.
  (cd / && exec setsid nohup podman system service --time=0 "unix://$SOCK" </dev/null >>"$LOG" 2>&1 9>&-) &
  echo $! >"$PIDFILE"
  deadline=$((SECONDS + 60))
  until ping_sock "$SOCK"; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$LOG" >&2 || true
      die "no answer on $SOCK after 60 s (curl --unix-socket $SOCK http://d/_ping); see $LOG"
    fi
    if ! [ -d "/proc/$(cat "$PIDFILE")" ]; then
      tail -n 20 "$LOG" >&2 || true
      die "podman system service exited; see $LOG"
    fi
    sleep 0.5
  done
  say "API answers on $SOCK"
fi

# ---------------------------------------------------------------- leftovers
if [ "${EOSKIT_NO_CLEANUP:-0}" != 1 ]; then
  ids=$(podman ps -aq --filter label=org.testcontainers=true 2>/dev/null || true)
  if [ -n "$ids" ]; then
    say "removing $(wc -w <<<"$ids") leftover testcontainers container(s)"
    # shellcheck disable=SC2086
    podman rm -f -t 0 $ids >/dev/null 2>&1 || podman rm -f $ids >/dev/null || true
  fi
  nets=$(podman network ls -q --filter label=org.testcontainers=true 2>/dev/null || true)
  if [ -n "$nets" ]; then
    say "removing $(wc -w <<<"$nets") leftover testcontainers network(s)"
    # shellcheck disable=SC2086
    podman network rm -f $nets >/dev/null || true
  fi
  vols=$(podman volume ls -q --filter label=org.testcontainers=true 2>/dev/null || true)
  if [ -n "$vols" ]; then
    # shellcheck disable=SC2086
    podman volume rm -f $vols >/dev/null || true
  fi
fi

print_env
