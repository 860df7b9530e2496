# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stages' decisions: what a node holds against what a stage wants (node_state's want)."""

from ansible_collections.lab.multihost.plugins.module_utils.plan.docker import engine_changes
from ansible_collections.lab.multihost.plugins.module_utils.plan.host import host_changes

ENGINE_WANTS = ('networks', 'images', 'containers')


def decide(state, want):
    """{key: [reason, ...]}: the host-level changes, then the engine's, in apply order."""
    changes = host_changes(state, want)
    if any(want.get(key) for key in ENGINE_WANTS):
        changes.update(engine_changes(state.get('docker'), want))
    return changes
