#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: a named Linux network namespace."""

DOCUMENTATION = r'''
---
module: netns
short_description: Manage a named Linux network namespace
description:
  - Creates or removes a named network namespace (C(ip netns add NAME)), matching the
    name exactly (an existing C(mario2) does not count as C(mario)).
  - Reads state with C(ip -j); check mode reports exactly the commands that would run;
    diff mode shows before/after.
  - A thin front end to the shared engine in C(module_utils/netns_engine.py).
options:
  name:
    description: Namespace name. Non-empty, no C(/), not C(.) or C(..).
    type: str
    required: true
  state:
    description: Whether the namespace should exist.
    type: str
    choices: [present, absent]
    default: present
  loopback_up:
    description: Bring the namespace's C(lo) up.
    type: bool
    default: true
requirements:
  - iproute2 (C(ip) with JSON output)
notes:
  - If a step fails, what this task created is removed again.
extends_documentation_fragment:
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Namespace test1 with loopback up
  lab.multihost.netns:
    name: test1

- name: Remove it
  lab.multihost.netns:
    name: test1
    state: absent
'''

RETURN = r'''
operations:
  description: The ip commands this task ran (in check mode, would run), in order.
  returned: always
  type: list
  elements: str
  sample: ["ip netns add test1", "ip -n test1 link set lo up"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.netns.engine import run_module


def main():
    module = AnsibleModule(
        argument_spec={
            'name': {'type': 'str', 'required': True},
            'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
            'loopback_up': {'type': 'bool', 'default': True},
        },
        supports_check_mode=True,
    )
    p = module.params
    spec = {'state': p['state'],
            'namespaces': [{'name': p['name'], 'loopback_up': p['loopback_up']}]}
    run_module(module, spec, single=True)


if __name__ == '__main__':
    main()
