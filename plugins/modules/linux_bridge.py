#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: a Linux bridge, in the host or in a network namespace."""

DOCUMENTATION = r'''
---
module: linux_bridge
short_description: Manage a Linux bridge in the host or a network namespace
description:
  - Creates or removes a Linux bridge, sets its addresses, STP and MTU, enslaves the
    listed ports and brings the bridge and its ports up.
  - "Docker sets the host's iptables FORWARD policy to DROP while bridge netfilter is
    on, which drops traffic between the ports of a host bridge. With
    O(firewall=docker-user) (the default) and a bridge in the host namespace, the
    module keeps an C(-i BRIDGE -o BRIDGE -j ACCEPT) rule in the C(DOCKER-USER) chain
    (creating the chain if needed); Docker keeps that chain's rules across restarts.
    It uses the C(iptables) binary only when present. A bridge inside a namespace
    (O(namespace)) needs no rule: host iptables does not see its traffic."
  - Reads state with C(ip -j); check mode reports exactly the commands that would run;
    diff mode shows before/after. If a step fails, what this task created is removed.
options:
  name:
    description: Bridge name (at most 15 bytes of C([A-Za-z0-9_.-])).
    type: str
    required: true
  namespace:
    description: Namespace that holds the bridge; omitted means the host. It must exist.
    type: str
  address:
    description:
      - CIDR address(es) of the bridge. When given, the complete list of (non link-local)
        addresses. Omitted means addresses are not managed.
    type: list
    elements: str
  ports:
    description:
      - Existing interfaces in the same namespace to enslave and bring up. Ports not
        listed are left alone.
    type: list
    elements: str
    default: []
  stp:
    description: Spanning tree on or off; omitted means not managed.
    type: bool
  mtu:
    description: MTU of the bridge.
    type: int
  firewall:
    description:
      - C(docker-user) keeps the DOCKER-USER accept rule for a host bridge (see above);
        C(none) leaves iptables alone.
    type: str
    choices: [docker-user, none]
    default: docker-user
  state:
    description: Whether the bridge should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - iproute2 (C(ip) with JSON output); iptables only for the DOCKER-USER rule
extends_documentation_fragment:
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: A bridge like docker0 on the host
  lab.multihost.linux_bridge:
    name: br-lab
    address: 10.10.0.254/24
    stp: false

- name: A bridge inside its own namespace (no host iptables involved)
  lab.multihost.linux_bridge:
    name: br0
    namespace: switch1
    ports: [port1, port2]
'''

RETURN = r'''
operations:
  description: The commands this task ran (in check mode, would run), in order.
  returned: always
  type: list
  elements: str
  sample: ["ip link add br-lab type bridge stp_state 0", "ip link set br-lab up",
           "iptables -w -I DOCKER-USER -i br-lab -o br-lab -j ACCEPT"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.netns.engine import run_module


def main():
    module = AnsibleModule(
        argument_spec={
            'name': {'type': 'str', 'required': True},
            'namespace': {'type': 'str'},
            'address': {'type': 'list', 'elements': 'str'},
            'ports': {'type': 'list', 'elements': 'str', 'default': []},
            'stp': {'type': 'bool'},
            'mtu': {'type': 'int'},
            'firewall': {'type': 'str', 'default': 'docker-user', 'choices': ['docker-user', 'none']},
            'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
        },
        supports_check_mode=True,
    )
    p = module.params
    bridge = {k: p[k] for k in ('name', 'namespace', 'ports', 'stp', 'mtu', 'firewall')}
    bridge['addresses'] = p['address']
    run_module(module, {'state': p['state'], 'bridges': [bridge]}, single=True)


if __name__ == '__main__':
    main()
