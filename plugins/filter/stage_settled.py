# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.stage_settled: whether the lab's one read found nothing for a stage to do."""

DOCUMENTATION = r'''
name: stage_settled
short_description: Whether the lab's one read of a node found nothing for a stage to do
description:
  - The lab reads each node once per run for every host-level stage (role C(_common),
    C(tasks_from=preflight)), as C(lab_node_read). A stage whose part of that read asks for no change
    and waits for nothing is settled on the node; its play does not load the role, so a re-run
    evaluates one task for the stage instead of its preflight, want, decision and gated changes.
  - False where the read ended (an earlier stage changed the node and set C(lab_node_read) to
    null), never was (a run with C(--tags) that skips the preflight's read), or left the stage
    out. The stage then runs as usual and reads the node itself.
  - Settled says nothing about a want that changes later in the run (etcd's follows the backend
    the run decides; pki's the certificates it issues); the playbook adds those terms.
  - A stage that acts for the cluster from one node (the networks, whose overlays are created once)
    passes every play host's read as a list; it is settled where each of them is.
positional: _input, stage
options:
  _input:
    description:
      - C(lab_node_read) as the preflight set it; null or false where a stage ended it or a host has
        none (then false).
      - Or a list of them, one per host, settled where every one is.
    type: raw
    required: true
  stage:
    description:
      - One of the stages the read decides (firewall, pki, docker, etcd, overlay_backend, networks,
        netns_lab).
    type: str
    required: true
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Fence the control plane's ports (where the lab's one read found something to do)
  ansible.builtin.include_role:
    name: lab.multihost.firewall
  when: not lab_node_read | default(none) | lab.multihost.stage_settled('firewall')

- name: Create the lab networks (where a node's read found something to do, on every node)
  ansible.builtin.include_role:
    name: lab.multihost.networks
  when: >-
    not ansible_play_hosts | map('extract', hostvars) | map(attribute='lab_node_read', default=false)
    | list | lab.multihost.stage_settled('networks')
'''

RETURN = r'''
_value:
  description: True where the read (each read of a list) holds a part for the stage with no change and nothing waiting.
  type: bool
'''


def stage_settled(shared, stage):
    if isinstance(shared, list):
        return bool(shared) and all(stage_settled(one, stage) for one in shared)
    part = ((shared or {}).get('stages') or {}).get(stage)
    return part is not None and not part.get('changes') and not part.get('waiting')


class FilterModule:
    def filters(self):
        return {'stage_settled': stage_settled}
