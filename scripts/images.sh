#!/usr/bin/env bash
# Build the lab images for one Debian release (default bookworm):
#   debian:<release>        base; pulled, or made with debootstrap when no registry answers
#   lab-node:<release>      the node image, from images/node/Dockerfile
#   lab-tools:<release>     test/benchmark containers, from images/tools/Dockerfile
#   .cache/images/debian-<release>.tar, lab-tools-<release>.tar
#                           `docker save` archives, loaded on the nodes
# Each step is skipped when its result already matches its recipe.
set -euo pipefail

release=${1:-bookworm}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/.cache/images
base=debian:$release
say() { printf 'images: %s\n' "$*"; }
mkdir -p "$cache"
# One build per release at a time: a second caller (the swarm scenario's dependency
# step while `make test-all` builds trixie in the background) waits, then finds it done.
exec 9>"$cache/.lock-$release"
flock -n 9 || { say "waiting for another build of $release"; flock 9; }

label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

make_base() {
  if docker image inspect "$base" >/dev/null 2>&1; then return 0; fi
  say "pulling $base"
  if docker pull -q "$base" >/dev/null 2>&1; then return 0; fi
  say "no registry: building $base with debootstrap (about a minute)"
  command -v debootstrap >/dev/null 2>&1 || {
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      say "debootstrap is missing: install it (apt-get install debootstrap)" >&2; exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  rootfs=$(mktemp -d /var/tmp/lab-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase "$release" "$rootfs" >"$cache/debootstrap-$release.log" 2>&1 || {
    say "debootstrap failed; see $cache/debootstrap-$release.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"; trap - EXIT
}

# build NAME DIR: docker build DIR as NAME:<release> unless its recipe label matches.
build() {
  image=$1:$release
  recipe=$( (find "$top/images/$2" -type f | sort | xargs cat; echo "$release"; docker image inspect -f '{{.Id}}' "$base") | sha256sum | cut -c1-16)
  if [ "$(label "$image" lab.recipe)" = "$recipe" ]; then return 0; fi
  say "building $image"
  DOCKER_BUILDKIT=0 docker build -q --build-arg DEBIAN_RELEASE="$release" --label lab.recipe="$recipe" \
    -t "$image" "$top/images/$2" >/dev/null
}

# save IMAGE FILE: docker save unless FILE already holds this image id.
save() {
  id=$(docker image inspect -f '{{.Id}}' "$1")
  if [ -s "$2" ] && [ "$(cat "$2.id" 2>/dev/null)" = "$id" ]; then return 0; fi
  say "saving $1 to $2"
  docker save -o "$2.tmp" "$1" && mv "$2.tmp" "$2" && echo "$id" >"$2.id"
}

make_base
build lab-node node
build lab-tools tools
save "$base" "$cache/debian-$release.tar"
save "lab-tools:$release" "$cache/lab-tools-$release.tar"
say "ready: lab-node:$release, lab-tools:$release, $base (archives in $cache)"
