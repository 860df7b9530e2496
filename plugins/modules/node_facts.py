#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: the facts the lab's roles use, in one short module run."""

DOCUMENTATION = r'''
---
module: node_facts
short_description: The facts the lab's roles use, gathered in one short module run
description:
  - The lab's fact gathering. C(playbooks/preflight.yml) names it in C(ansible_facts_modules), so
    a play's fact gathering runs it in place of M(ansible.builtin.setup).
  - Returns, under setup's names and in its forms, only the facts the lab's roles use. These are
    the local facts under O(fact_path) (C(ansible_local), JSON or INI; fact scripts are not run),
    the distribution, its release, major version and OS family (from C(/etc/os-release)), the
    host name, and every IPv4 address but the loopback's (C(ansible_all_ipv4_addresses), from
    C(ip -j -4 addr show)).
  - Setup's network subset costs about twice a short module run on the lab's nodes; the lab
    reads every other part of a node in its one read (M(lab.multihost.node_state)).
options:
  fact_path:
    description: Directory of the local facts (C(NAME.fact) files).
    type: path
    default: /etc/ansible/facts.d
extends_documentation_fragment:
  - lab.multihost.attributes.info_module
  - lab.multihost.attributes
  - lab.multihost.attributes.facts
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
# A play's fact gathering runs it where the play sets
# ansible_facts_modules: [lab.multihost.node_facts] (playbooks/preflight.yml).
- name: Gather the facts the lab's roles use
  lab.multihost.node_facts:

- name: Show the addresses lab_address must be one of
  ansible.builtin.debug:
    var: ansible_facts['all_ipv4_addresses']
'''

RETURN = r'''
ansible_facts:
  description: The facts, under setup's names.
  returned: always
  type: dict
  contains:
    local:
      description: The local facts by file name (without C(.fact)).
      type: dict
      sample: {overlay_backend: {backend: cluster-store, docker_version: "20.10", etcd_port: "2379"}}
    distribution:
      description: The distribution's name.
      type: str
      sample: Debian
    distribution_release:
      description: The release's code name.
      type: str
      sample: bookworm
    distribution_major_version:
      description: The release's major version.
      type: str
      sample: "12"
    os_family:
      description: The OS family.
      type: str
      sample: Debian
    hostname:
      description: The host name, without its domain.
      type: str
      sample: docker-node1
    all_ipv4_addresses:
      description: Every IPv4 address of the node but the loopback's.
      type: list
      elements: str
      sample: [172.17.0.1, 192.168.205.10]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.readers.facts import node_facts
from ansible_collections.lab.multihost.plugins.module_utils.readers.run import module_run


def main():
    module = AnsibleModule(argument_spec=dict(fact_path=dict(type='path', default='/etc/ansible/facts.d')),
                           supports_check_mode=True)
    facts = node_facts(module_run(module), fact_path=module.params['fact_path'])
    # Prefixed as setup returns them: Ansible keeps them as ansible_facts['NAME'] and ansible_NAME.
    module.exit_json(changed=False, ansible_facts={f'ansible_{name}': value for name, value in facts.items()})


if __name__ == '__main__':
    main()
