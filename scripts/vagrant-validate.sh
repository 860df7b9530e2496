#!/usr/bin/env bash
# `vagrant validate` on the Vagrantfile (no provider needed). Installs Debian's
# vagrant package when missing and run as root on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v vagrant >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant >/dev/null
  else
    echo "vagrant-validate: vagrant is not installed; skipping is not allowed, install it (apt-get install vagrant)" >&2
    exit 1
  fi
fi
vagrant validate --ignore-provider
