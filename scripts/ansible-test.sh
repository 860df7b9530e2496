#!/usr/bin/env bash
# ansible-test on this repository as the collection lab.multihost.
#   scripts/ansible-test.sh sanity [ansible-test options]   every sanity test
#   scripts/ansible-test.sh units [ansible-test options]    tests/unit/plugins/
#
# ansible-test wants the collection at .../ansible_collections/lab/multihost:
# the link `make venv` makes. It takes the content root from os.getcwd(), which
# resolves links, so a `cd` into the link is not enough; ANSIBLE_TEST_CONTENT_ROOT
# names the link path instead. That is all sanity needs. Units run pytest, which
# anchors the test paths on the resolved working directory (the real checkout)
# while ansible-test's pytest plugin requires them below the link path: no way
# around that from a link, so units run on a fresh copy, in a temporary
# directory, of the files ansible-test would see (tracked and untracked-not-ignored)
# under galaxy.yml meta/ plugins/ tests/unit/.
#
# Both run in the project's venv (--local: ansible-core, pytest and pytest-xdist
# pinned in requirements.txt) on its Python version only. Each sanity test gets a
# virtualenv of its own in ~/.ansible/test/venv, made once from ansible-test's
# own pinned requirements (PyPI; pip from scripts/ansible-test-pip.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
link=$top/.cache/collections/ansible_collections/lab/multihost
cmd=${1:?usage: $0 sanity|units [ansible-test options]}
shift
if [ ! -L "$link" ] || [ ! -x "$top/.venv/bin/ansible-test" ]; then
  echo "ansible-test.sh: run 'make venv' first" >&2
  exit 1
fi
py=$("$top/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export PATH=$top/.venv/bin:$PATH

case $cmd in
  sanity)
    # The shellcheck sanity test only warns when shellcheck is missing.
    "$top/scripts/host-package.sh" shellcheck
    cd "$link"
    ANSIBLE_TEST_CONTENT_ROOT=$link exec ansible-test sanity --local --python "$py" --color no "$@"
    ;;
  units)
    # Outside the checkout: inside it, ansible-test would take the checkout's git
    # for the copy's source control and see none of the copy's files.
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-units.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    copy=$tmp/ansible_collections/lab/multihost
    mkdir -p "$copy"
    cd "$top"
    git ls-files -z --cached --others --exclude-standard -- galaxy.yml meta plugins tests/unit \
      | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
      | tar --null -T - -c | tar -C "$copy" -x
    cd "$copy"
    ansible-test units --local --python "$py" --color no "$@" tests/unit/plugins/
    ;;
  *)
    echo "usage: $0 sanity|units [ansible-test options]" >&2
    exit 2
    ;;
esac
