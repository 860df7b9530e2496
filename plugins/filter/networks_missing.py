# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.networks_missing: the wanted Docker networks a node lacks or holds otherwise."""

DOCUMENTATION = r'''
name: networks_missing
short_description: The wanted Docker networks a node lacks, or holds with another driver or subnet
description:
  - From a list of wanted networks (C(name), C(driver), optional C(subnet)) and a
    lab.multihost.node_state result read with C(docker=true), the networks to create or
    correct. Everything when the engine was not read (skipped, or no engine answered).
positional: _input, state
options:
  _input:
    description: Wanted networks.
    type: list
    elements: dict
    required: true
  state:
    description: The registered result of lab.multihost.node_state with C(docker=true).
    type: dict
    required: true
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Create only the networks this node lacks
  community.docker.docker_network:
    name: "{{ item.name }}"
    driver: "{{ item.driver }}"
  loop: "{{ networks_list | lab.multihost.networks_missing(networks_node) }}"
'''

RETURN = r'''
_value:
  description: The wanted networks that are missing or differ.
  type: list
  elements: dict
'''


def networks_missing(wanted, state):
    engine = ((state or {}).get('state') or {}).get('docker')
    if not engine:
        return list(wanted)
    have = engine.get('networks') or {}
    out = []
    for net in wanted:
        seen = have.get(net['name'])
        if (seen is None or seen.get('driver') != net.get('driver', 'bridge')
                or ('subnet' in net and net['subnet'] not in (seen.get('subnets') or []))):
            out.append(net)
    return out


class FilterModule:
    def filters(self):
        return {'networks_missing': networks_missing}
