#!/usr/bin/env bash
# Makes PostgreSQL's server binaries (initdb, postgres) available for the
# integration harness's processes backend: does nothing when they are found
# (PATH, pg_config --bindir, /usr/lib/postgresql/*/bin), else installs
# Debian's postgresql package (root, apt-get). Prints the bin folder on stdout.
set -euo pipefail

say() { echo "postgres-install: $*" >&2; }
find_bin() {
  local d
  if d=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null)")" 2>/dev/null) && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  if d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  return 1
}

if find_bin; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "PostgreSQL's initdb and postgres not found; install your distribution's PostgreSQL server package (Debian: apt-get install postgresql) or set EOSKIT_POSTGRES_BINDIR"
  exit 1
fi
say "installing Debian's postgresql package"
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
find_bin || { say "postgresql installed but initdb not found"; exit 1; }
