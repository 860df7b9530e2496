#!/usr/bin/env bash
# ansible-test runs each sanity test in a virtualenv of its own, made without
# pip, and bootstraps pip there with a get-pip script that it downloads from
# ci-files.testing.ansible.com; machines that reach only PyPI fail there. This
# saves an equivalent bootstrap script where ansible-test looks first
# (~/.ansible/test/cache/get_pip_<version>.py, the path its error message
# names): pip's own wheel from PyPI, checked against the hash below,
# installing itself from that wheel. Idempotent; run by `make venv`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pip that ansible-core 2.19's ansible-test bootstraps, and its wheel's hash on PyPI.
version=24.2
sha256=2cd581cf58ab7fcfca4ce8efa6dcacd0de5bf8d0a3eb9ec927e07405f4d9e2a2

wanted=$(.venv/bin/python -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3"))["pip"])')
if [ "$wanted" != "$version" ]; then
  echo "ansible-test-pip: ansible-test now bootstraps pip $wanted, this script pip $version; update it" >&2
  exit 1
fi

cache=$HOME/.ansible/test/cache
wheel=$cache/pip-$version-py3-none-any.whl
script=$cache/get_pip_${version//./_}.py
mkdir -p "$cache"

if ! echo "$sha256  $wheel" | sha256sum --check --status 2>/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "pip==$version --hash=sha256:$sha256" >"$tmp/req.txt"
  .venv/bin/pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$tmp/req.txt" -d "$tmp"
  mv "$tmp/pip-$version-py3-none-any.whl" "$wheel"
fi

cat >"$script.tmp" <<PY
"""pip bootstrap for ansible-test's virtualenvs, written by a project's
scripts/ansible-test-pip.sh in place of the get-pip script ansible-test
downloads. Like get-pip.py it runs pip install --upgrade --force-reinstall
with the options and packages ansible-test passes (pip==$version), from pip's
own wheel beside this file, without an index."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
wheel = os.path.join(here, 'pip-$version-py3-none-any.whl')
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.path.insert(0, wheel)
from pip._internal.cli.main import main  # noqa: E402

sys.exit(main(['install', '--upgrade', '--force-reinstall', '--no-index', '--find-links', here] + args))
PY
if cmp -s "$script.tmp" "$script"; then rm -f "$script.tmp"; else mv "$script.tmp" "$script"; fi
