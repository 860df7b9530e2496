#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: a veth pair, its ends' namespaces and addresses."""

DOCUMENTATION = r'''
---
module: veth
short_description: Manage a veth pair across network namespaces
description:
  - Creates a veth pair, places each end in its namespace (or the host), sets the
    addresses and MTU and brings both ends up.
  - Converges an existing pair to what is declared, wherever its ends are now
    (wrong namespace, missing or extra address, link down, MTU, bridge).
  - C(state=absent) deletes the pair wherever its ends are.
  - Reads state with C(ip -j); check mode reports exactly the commands that would run;
    diff mode shows before/after. If a step fails, what this task created is removed.
options:
  name:
    description: Name of the first end (at most 15 bytes of C([A-Za-z0-9_.-])).
    type: str
    required: true
  peer:
    description: Name of the other end. Required with C(state=present).
    type: str
  namespace:
    description: Namespace of the first end; omitted means the host. It must exist.
    type: str
  peer_namespace:
    description: Namespace of the peer; omitted means the host. It must exist.
    type: str
  address:
    description:
      - CIDR address(es) of the first end, e.g. C(192.168.1.1/24). When given, this is
        the complete list of (non link-local) addresses; an empty list removes them all.
        Omitted means addresses are not managed.
    type: list
    elements: str
  peer_address:
    description: CIDR address(es) of the peer, as for O(address).
    type: list
    elements: str
  mtu:
    description: MTU of both ends (at least 68; the kernel enforces the device maximum).
    type: int
  bridge:
    description: Enslave the first end to this bridge (in the same namespace).
    type: str
  peer_bridge:
    description: Enslave the peer to this bridge (in the peer's namespace).
    type: str
  state:
    description: Whether the pair should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - iproute2 (C(ip) with JSON output)
extends_documentation_fragment:
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Pair test1 <-> test2
  lab.multihost.veth:
    name: veth-test1
    peer: veth-test2
    namespace: test1
    peer_namespace: test2
    address: 192.168.1.1/24
    peer_address: 192.168.1.2/24

- name: Host end on a bridge, other end in a namespace
  lab.multihost.veth:
    name: veth-ns1
    namespace: ns1
    address: 10.10.0.1/24
    peer: ns1-port
    peer_bridge: br-lab

- name: Remove the pair wherever it is
  lab.multihost.veth:
    name: veth-test1
    state: absent
'''

RETURN = r'''
operations:
  description: The ip commands this task ran (in check mode, would run), in order.
  returned: always
  type: list
  elements: str
  sample: ["ip link add veth-test1 netns test1 type veth peer name veth-test2 netns test2"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.netns.engine import run_module


def main():
    module = AnsibleModule(
        argument_spec={
            'name': {'type': 'str', 'required': True},
            'peer': {'type': 'str'},
            'namespace': {'type': 'str'},
            'peer_namespace': {'type': 'str'},
            'address': {'type': 'list', 'elements': 'str'},
            'peer_address': {'type': 'list', 'elements': 'str'},
            'mtu': {'type': 'int'},
            'bridge': {'type': 'str'},
            'peer_bridge': {'type': 'str'},
            'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
        },
        required_if=[('state', 'present', ['peer'])],
        supports_check_mode=True,
    )
    p = module.params
    veth = {k: p[k] for k in ('name', 'peer', 'namespace', 'peer_namespace', 'mtu', 'bridge', 'peer_bridge')}
    veth['addresses'] = p['address']
    veth['peer_addresses'] = p['peer_address']
    run_module(module, {'state': p['state'], 'veths': [veth]}, single=True)


if __name__ == '__main__':
    main()
