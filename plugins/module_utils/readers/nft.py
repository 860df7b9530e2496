# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nftables: whether the kernel holds a table as its ruleset file loads it."""


def table_matches(run, table, ruleset):
    """Whether the kernel holds `table` as loading `ruleset` makes it (loaded in a scratch network
    namespace, both printed without counter values); False when either cannot be read."""
    family, name = table.split()
    rc, live, _err = run(['nft', '-s', 'list', 'table', family, name])
    if rc != 0:
        return False
    rc, want, _err = run(['unshare', '--net', 'sh', '-c', 'nft -f "$1" && nft -s list table "$2" "$3"',
                          'sh', ruleset, family, name])
    return rc == 0 and live == want
