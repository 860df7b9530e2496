# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian packages: the installed version, or None; the version apt's lists offer, or None."""


def parse_packages(names, text):
    """`dpkg-query -W -f '${Package} ${db:Status-Status} ${Version}\\n' NAME...`: installed versions."""
    seen = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == 'installed':
            seen[parts[0]] = parts[2]
    return {name: seen.get(name) for name in names}


def read_packages(run, names):
    """The packages' installed versions through dpkg-query, one run for all."""
    if not names:
        return {}
    _rc, out, _err = run(['dpkg-query', '-W', '-f', '${Package} ${db:Status-Status} ${Version}\n'] + names)
    return parse_packages(names, out)


def parse_candidates(names, text):
    """`apt-cache policy NAME...`: the candidate version of each, None where the lists hold none
    (``Candidate: (none)``, or no block at all: apt cannot locate the package)."""
    seen, name = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(':'):
            name = line[:-1]
        elif name and line.strip().startswith('Candidate:'):
            value = line.split(':', 1)[1].strip()
            seen[name] = None if value == '(none)' else value
    return {n: seen.get(n) for n in names}


def read_candidates(run, names):
    """The versions apt's lists offer, as they are on the node (read, never refreshed)."""
    if not names:
        return {}
    _rc, out, _err = run(['apt-cache', 'policy', '--'] + names)
    return parse_candidates(names, out)
