#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: a whole namespace/bridge/veth topology in one task."""

DOCUMENTATION = r'''
---
module: netns_topology
short_description: Converge a topology of network namespaces, bridges and veths
description:
  - Converges namespaces, bridges and veth pairs (with addresses) in one task, with
    one C(ip -j) read per namespace and one C(ip -batch) per namespace and phase,
    so labs of hundreds of namespaces take seconds.
  - Namespaces used by bridges or veths are part of the topology even if not listed
    in O(namespaces).
  - C(state=absent) removes the veths, bridges and namespaces it declares.
  - Same semantics per object as the M(lab.multihost.netns), M(lab.multihost.veth) and
    M(lab.multihost.linux_bridge) modules, which share its engine. Check mode reports
    exactly the commands that would run; diff mode shows before/after. If a step fails,
    what this task created is removed.
options:
  namespaces:
    description: Namespaces, as names or dicts with C(name) and C(loopback_up) (default true).
    type: list
    elements: raw
    default: []
  bridges:
    description:
      - Bridges, dicts with C(name) and optional C(namespace), C(address) (CIDR or list),
        C(stp), C(mtu), C(ports), C(firewall) (C(docker-user) or C(none)), as for
        M(lab.multihost.linux_bridge).
    type: list
    elements: dict
    default: []
  veths:
    description:
      - Veth pairs, dicts with C(name), C(peer) and optional C(namespace),
        C(peer_namespace), C(address), C(peer_address), C(mtu), C(bridge), C(peer_bridge),
        as for M(lab.multihost.veth).
    type: list
    elements: dict
    default: []
  state:
    description: Whether the declared objects should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - iproute2 (C(ip) with JSON output); iptables only for host bridges' DOCKER-USER rule
extends_documentation_fragment:
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Three namespaces on one bridge living in its own namespace
  lab.multihost.netns_topology:
    namespaces: [ns-br1, ns-br2, ns-br3, ns-lab-sw]
    bridges:
      - name: br-lab
        namespace: ns-lab-sw
    veths:
      - {name: eth0, namespace: ns-br1, address: 10.10.0.1/24,
         peer: br1-port, peer_namespace: ns-lab-sw, peer_bridge: br-lab}
      - {name: eth0, namespace: ns-br2, address: 10.10.0.2/24,
         peer: br2-port, peer_namespace: ns-lab-sw, peer_bridge: br-lab}
      - {name: eth0, namespace: ns-br3, address: 10.10.0.3/24,
         peer: br3-port, peer_namespace: ns-lab-sw, peer_bridge: br-lab}

- name: Tear it down
  lab.multihost.netns_topology:
    namespaces: [ns-br1, ns-br2, ns-br3, ns-lab-sw]
    bridges: [{name: br-lab, namespace: ns-lab-sw}]
    state: absent
'''

RETURN = r'''
operations:
  description: The commands this task ran (in check mode, would run), in order.
  returned: always
  type: list
  elements: str
  sample: ["ip netns add ns-br1", "ip -n ns-lab-sw link add br-lab type bridge"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.netns.engine import run_module


def main():
    module = AnsibleModule(
        argument_spec={
            'namespaces': {'type': 'list', 'elements': 'raw', 'default': []},
            'bridges': {'type': 'list', 'elements': 'dict', 'default': []},
            'veths': {'type': 'list', 'elements': 'dict', 'default': []},
            'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
        },
        supports_check_mode=True,
    )
    run_module(module, dict(module.params))


if __name__ == '__main__':
    main()
