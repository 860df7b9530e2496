#!/usr/bin/env bash
# Build the lab images for one Debian release (default bookworm):
#   debian:<release>        base; pulled, or made with debootstrap when no registry answers
#   lab-node:<release>      the node image, from images/node/Dockerfile
#   .cache/images/debian-<release>.tar   `docker save` of the base, loaded on the nodes
# Each step is skipped when its result already matches its recipe.
set -euo pipefail

release=${1:-bookworm}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/.cache/images
base=debian:$release
node=lab-node:$release
archive=$cache/debian-$release.tar
say() { printf 'images: %s\n' "$*"; }
mkdir -p "$cache"

label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

make_base() {
  if docker image inspect "$base" >/dev/null 2>&1; then return 0; fi
  say "pulling $base"
  if docker pull -q "$base" >/dev/null 2>&1; then return 0; fi
  say "no registry: building $base with debootstrap (about a minute)"
  command -v debootstrap >/dev/null 2>&1 || {
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || {
      say "debootstrap is missing: install it (apt-get install debootstrap)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  rootfs=$(mktemp -d /var/tmp/lab-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase "$release" "$rootfs" >"$cache/debootstrap-$release.log" 2>&1 || {
    say "debootstrap failed; see $cache/debootstrap-$release.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"; trap - EXIT
}

make_node() {
  recipe=$( (cat "$top/images/node/Dockerfile"; echo "$release"; docker image inspect -f '{{.Id}}' "$base") | sha256sum | cut -c1-16)
  if [ "$(label "$node" lab.recipe)" = "$recipe" ]; then
    say "$node is up to date"; return 0
  fi
  say "building $node"
  DOCKER_BUILDKIT=0 docker build -q --build-arg DEBIAN_RELEASE="$release" --label lab.recipe="$recipe" \
    -t "$node" "$top/images/node" >/dev/null
}

make_archive() {
  id=$(docker image inspect -f '{{.Id}}' "$base")
  if [ -s "$archive" ] && [ "$(cat "$archive.id" 2>/dev/null)" = "$id" ]; then return 0; fi
  say "saving $base to $archive"
  docker save -o "$archive.tmp" "$base" && mv "$archive.tmp" "$archive" && echo "$id" >"$archive.id"
}

make_base
make_node
make_archive
say "ready: $node, $base ($archive)"
