#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the hub's PgMeta tests when they are missing (the
# tests start their own throwaway server from /usr/lib/postgresql/N/bin; the packaged cluster is not used).
# Idempotent: a second run only prints the version.
set -euo pipefail

ROOT=/usr/lib/postgresql

# The newest installed version's bin folder, or nothing.
newest_bin() {
  local initdb
  initdb="$( (ls -d "$ROOT"/*/bin/initdb 2>/dev/null || true) | sort -V | tail -n 1)"
  if [ -n "$initdb" ]; then dirname "$initdb"; fi
}

BIN="$(newest_bin)"
if [ -z "$BIN" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  else
    SUDO="sudo"
  fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
  BIN="$(newest_bin)"
  if [ -z "$BIN" ]; then
    echo "ensure-postgres: installed postgresql but found no $ROOT/*/bin/initdb" >&2
    exit 1
  fi
fi

"$BIN/postgres" --version
