#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
# Debian/Ubuntu as root: install the distribution's docker.io when missing and
# start it (systemd when it runs, otherwise dockerd in the background).
set -euo pipefail

log=/var/log/lab-dockerd.log
say() { printf 'host-engine: %s\n' "$*"; }

wait_engine() {
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

if docker info >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "no Docker engine answers. Install and start Docker Engine (Debian/Ubuntu: apt-get install docker.io), or run this as root on Debian/Ubuntu to have it done for you." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "installing docker.io from the distribution"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if [ -d /run/systemd/system ]; then
  say "starting docker through systemd"
  systemctl start docker
else
  say "no systemd here: starting dockerd in the background (log: $log)"
  nohup dockerd >"$log" 2>&1 &
fi

if ! wait_engine; then
  say "dockerd did not answer within 60 s; last lines of its log:" >&2
  tail -n 20 "$log" >&2 2>/dev/null || journalctl -u docker -n 20 --no-pager >&2 || true
  exit 1
fi
say "engine up: $(docker version -f '{{.Server.Version}}')"
