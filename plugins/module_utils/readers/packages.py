# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian packages: the installed version, or None."""


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
