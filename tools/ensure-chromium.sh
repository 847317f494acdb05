#!/usr/bin/env bash
# Installs Debian's chromium for the hub's headless page test when it is missing.
# Idempotent: a second run only prints the version.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  else
    SUDO="sudo"
  fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

"$CHROMIUM" --version
