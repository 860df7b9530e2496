# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stages' decisions: what a node holds against what a stage wants (node_state's want)."""

from ansible_collections.lab.multihost.plugins.module_utils.plan.docker import engine_changes
from ansible_collections.lab.multihost.plugins.module_utils.plan.host import host_changes
from ansible_collections.lab.multihost.plugins.module_utils.plan.preview import split

ENGINE_WANTS = ('networks', 'images', 'containers')


def decide(state, want):
    """{key: [reason, ...]}: the host-level changes, then the engine's, in apply order."""
    changes = host_changes(state, want)
    if any(want.get(key) for key in ENGINE_WANTS):
        changes.update(engine_changes(state.get('docker'), want, state.get('files')))
    return changes


def decide_each(state, wants, check_mode=False):
    """{stage: {'changes', 'waiting'}}: each stage's want decided on its own, on one read of the
    node; in check mode split into what the stage's tasks preview and what waits (plan.preview)."""
    out = {}
    for name, want in wants.items():
        changes, waiting = decide(state, want), {}
        if check_mode:
            changes, waiting = split(changes, state, want)
        out[name] = {'changes': changes, 'waiting': waiting}
    return out
