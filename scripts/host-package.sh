#!/usr/bin/env bash
# usage: scripts/host-package.sh PROGRAM [PACKAGE]
# Make sure PROGRAM is on PATH: as root on Debian/Ubuntu, install Debian's
# PACKAGE (default: PROGRAM) when it is missing; anywhere else fail, naming
# the package (lint steps may not be skipped for a missing tool).
set -euo pipefail
program=${1:?usage: $0 PROGRAM [PACKAGE]}
package=${2:-$program}
command -v "$program" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "host-package: $program is not installed; install it (apt-get install $package)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
