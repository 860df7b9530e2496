# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The netns engine: validate, read the state, plan, apply; shipped to the nodes as a package
(the boot-time rebuild of roles/netns_lab runs it there)."""
