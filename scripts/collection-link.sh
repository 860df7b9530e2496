#!/usr/bin/env bash
# The repository root is the collection lab.multihost. Ansible and
# ansible-test find a collection only below .../ansible_collections/NS/NAME,
# so this makes (or repairs) the relative link
#   .cache/collections/ansible_collections/lab/multihost -> the repository root
# that ansible.cfg's collections_path points at. Idempotent; run by `make venv`.
set -euo pipefail
cd "$(dirname "$0")/.."
ns=$(sed -n 's/^namespace: *//p' galaxy.yml)
name=$(sed -n 's/^name: *//p' galaxy.yml)
dir=.cache/collections/ansible_collections/$ns
link=$dir/$name
target=../../../..
mkdir -p "$dir"
if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
  exit 0
fi
if [ -e "$link" ] && [ ! -L "$link" ]; then
  echo "collection-link: $link exists and is not a link; remove it" >&2
  exit 1
fi
ln -sfn "$target" "$link"
