# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""python3 -m ...module_utils.recovery MODE: overlay-recover on a node."""

from ansible_collections.lab.multihost.plugins.module_utils.recovery.cli import main

if __name__ == '__main__':
    raise SystemExit(main())
