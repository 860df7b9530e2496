#!/usr/bin/env bash
# `vagrant validate` on the Vagrantfile (no provider needed). Installs Debian's
# vagrant package when missing and run as root on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/host-package.sh vagrant
vagrant validate --ignore-provider
