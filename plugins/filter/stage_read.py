# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.stage_read: a stage's decision from the lab's one read of the node, where it holds."""

DOCUMENTATION = r'''
name: stage_read
short_description: A stage's decision from the lab's one read of the node, where that read holds
description:
  - The lab reads each node once per run for every host-level stage (role C(_common),
    C(tasks_from=preflight), M(lab.multihost.node_state) with C(wants)), as C(lab_node_read). The first
    stage that changes something on the node sets C(lab_node_read) to null, and every later stage
    reads the node itself.
  - Returns the stage's part of that read (C(changes), C(waiting)) with the read's C(state), the
    keys the stage's own M(lab.multihost.node_state) run returns, where the read holds a part for
    the stage and that part was decided on the want the stage has now. Else null, and the stage
    reads the node itself.
  - With O(own), the stage's own read where it ran (not skipped) comes first.
positional: _input, stage, want
options:
  _input:
    description: C(lab_node_read), or null.
    type: raw
    required: true
  stage:
    description: The stage's name in C(lab_node_read.stages).
    type: str
    required: true
  want:
    description: What the stage wants now, as it hands it to node_state.
    type: dict
    required: true
  own:
    description: The stage's own node_state result (registered; skipped where the lab's read holds).
    type: dict
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Read the fence (where the lab's one read does not hold)
  lab.multihost.node_state:
    want: "{{ firewall_read.want }}"
  register: firewall_own_read
  when: lab_node_read | default(none) | lab.multihost.stage_read('firewall', firewall_read.want) is none

- name: Take the decision
  ansible.builtin.set_fact:
    firewall_plan: >-
      {{ lab_node_read | default(none)
         | lab.multihost.stage_read('firewall', firewall_read.want, own=firewall_own_read) }}
'''

RETURN = r'''
_value:
  description: C(changes), C(waiting) and C(state), as M(lab.multihost.node_state) returns them; or null.
  type: dict
'''


def stage_read(shared, stage, want, own=None):
    if own and not own.get('skipped'):
        return own
    part = ((shared or {}).get('stages') or {}).get(stage)
    asked = (shared or {}).get('wants') or {}
    if part is None or asked.get(stage) != want:
        return None
    return {'changes': part['changes'], 'waiting': part['waiting'], 'state': shared['state']}


class FilterModule:
    def filters(self):
        return {'stage_read': stage_read}
