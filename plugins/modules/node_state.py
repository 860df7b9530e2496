#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: what a node holds now, read in one round trip."""

DOCUMENTATION = r'''
---
module: node_state
short_description: Read what a node holds now in one round trip
description:
  - Reads, in one module run, the parts of a node's state a stage of the lab compares with
    what it wants, so that only the tasks that change something reach the node. Nothing is
    cached between runs; every run reads the node as it is.
  - Files (existence, type, mode, owner, group, SHA-1 of a regular file), systemd units
    (loaded, enabled, active), Debian packages (installed version), the Docker Engine
    (version, swarm state, networks, containers with their labels, image references),
    network namespaces, and whether an nftables table in the kernel is the one a ruleset
    file loads.
  - Read-only.
options:
  files:
    description: Paths to read.
    type: list
    elements: path
    default: []
  units:
    description: systemd units to read.
    type: list
    elements: str
    default: []
  packages:
    description: Debian packages to read.
    type: list
    elements: str
    default: []
  docker:
    description: Read the Docker Engine through its API on C(/var/run/docker.sock) (C(null) when it does not answer).
    type: bool
    default: false
  netns:
    description: List the named network namespaces (C(ip -j netns list)).
    type: bool
    default: false
  nft:
    description:
      - Compare the table the kernel holds with the one the ruleset file loads (loaded in a
        scratch network namespace; both printed by C(nft -s), without counter values).
    type: dict
    suboptions:
      table:
        description: Family and name, e.g. C(inet lab_fence).
        type: str
        required: true
      ruleset:
        description: The ruleset file.
        type: path
        required: true
requirements:
  - python3; systemctl, dpkg-query, ip, nft and unshare for the parts asked for, and the Docker socket
extends_documentation_fragment:
  - lab.multihost.attributes.info_module
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Read the fence's files, unit and rules
  lab.multihost.node_state:
    files: [/etc/lab-fence.nft, /etc/systemd/system/lab-fence.service]
    units: [lab-fence]
    packages: [nftables]
    nft: {table: inet lab_fence, ruleset: /etc/lab-fence.nft}
  register: fence_state

- name: Load the fence again when the kernel holds other rules
  ansible.builtin.command: nft -f /etc/lab-fence.nft
  when: not fence_state.state.nft['inet lab_fence']
  changed_when: true
'''

RETURN = r'''
state:
  description: What was asked for.
  returned: always
  type: dict
  contains:
    files:
      description:
        - Path -> C(exists), and for an existing path C(type) (file, directory, other), C(mode) (C(0644)),
          C(mtime), C(owner), C(group), and C(checksum) (SHA-1) of a regular file.
      type: dict
    units:
      description: Unit -> C(loaded), C(enabled), C(active).
      type: dict
    packages:
      description: Package -> installed version, or null.
      type: dict
    docker:
      description:
        - C(version), C(swarm) (LocalNodeState), C(swarm_control), C(networks) (name -> id, driver, scope,
          subnets), C(containers) (name -> running, status, image, labels, networks, restart_policy),
          C(images) (references); null when no engine answers.
      type: dict
      returned: when docker is true
    netns:
      description: Names of the network namespaces.
      type: list
      returned: when netns is true
    nft:
      description: Table -> whether the kernel holds it as the ruleset loads it.
      type: dict
      returned: when nft is set
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.node_state import NodeReader


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='path', default=[]),
            units=dict(type='list', elements='str', default=[]),
            packages=dict(type='list', elements='str', default=[]),
            docker=dict(type='bool', default=False),
            netns=dict(type='bool', default=False),
            nft=dict(type='dict', options=dict(table=dict(type='str', required=True),
                                               ruleset=dict(type='path', required=True))),
        ),
        supports_check_mode=True,
    )
    p = module.params

    def run(argv):
        # A tool that is not installed yet (a fresh node) reads as a failed command.
        try:
            return module.run_command(argv, environ_update={'LC_ALL': 'C'}, handle_exceptions=False)
        except OSError as exc:
            return 127, '', str(exc)

    reader = NodeReader(run)
    state = reader.read(files=p['files'], units=p['units'], packages=p['packages'], docker=p['docker'],
                        netns=p['netns'], nft=p['nft'])
    module.exit_json(changed=False, state=state)


if __name__ == '__main__':
    main()
