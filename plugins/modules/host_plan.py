#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: a host-level stage's one read and one decision."""

DOCUMENTATION = r'''
---
module: host_plan
short_description: Read what a stage owns on a node and decide what to change, in one run
description:
  - A stage of the lab hands this module everything it wants on the node at host level (files
    with their checksum, mode, owner and group; directories; systemd units enabled and active;
    Debian packages; an nftables table as its ruleset file loads it). The module reads exactly
    that and returns every difference, keyed by what to change, with its reasons.
  - The stage's tasks act on those keys only (C(file:PATH), C(unit:NAME), C(package:NAME),
    C(nft:TABLE)); none of them compares again. On a converged node C(changes) is empty.
  - Read-only. File contents never travel, the stage sends their SHA-1.
options:
  files:
    description:
      - Path -> what the stage wants of it, every key optional. C(type) is C(file) (default)
        or C(directory); C(checksum) the SHA-1 of the content; C(mode) as C(0644);
        C(owner) and C(group) by name.
    type: dict
    default: {}
  units:
    description: Unit -> C(enabled) and C(active), each true when wanted.
    type: dict
    default: {}
  packages:
    description: Debian packages that must be installed.
    type: list
    elements: str
    default: []
requirements:
  - python3; systemctl, dpkg-query, nft and unshare for the parts asked for
extends_documentation_fragment:
  - lab.multihost.nft_table
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Read and decide the fence
  lab.multihost.host_plan:
    files:
      /etc/lab-fence.nft: {checksum: "{{ ruleset | hash('sha1') }}", mode: "0600"}
    units: {lab-fence: {enabled: true, active: true}}
    packages: [nftables]
    nft: {table: inet lab_fence, ruleset: /etc/lab-fence.nft}
  register: fence

- name: Write the ruleset where the decision says so
  ansible.builtin.copy:
    content: "{{ ruleset }}"
    dest: /etc/lab-fence.nft
    mode: "0600"
  when: "'file:/etc/lab-fence.nft' in fence.changes"
'''

RETURN = r'''
changes:
  description:
    - Key -> reasons, one entry per thing to change, in the order a stage applies them (packages,
      files, units, the kernel's rules). Reasons are C(missing), C(not a file), C(not a directory),
      C(content), C(mode), C(owner), C(group), C(not loaded), C(disabled), C(stopped),
      C(not installed), C(not loaded in the kernel as the ruleset has it).
  returned: always
  type: dict
  sample: {"file:/etc/lab-fence.nft": ["content"], "unit:lab-fence": ["stopped"]}
state:
  description: What was read, as M(lab.multihost.node_state) returns it (C(files), C(units), C(packages), C(nft)).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.node_state import NFT_OPTION, NodeReader, module_run
from ansible_collections.lab.multihost.plugins.module_utils.plan.host import diff_text, host_changes


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='dict', default={}),
            units=dict(type='dict', default={}),
            packages=dict(type='list', elements='str', default=[]),
            nft=NFT_OPTION,
        ),
        supports_check_mode=True,
    )
    p = module.params
    reader = NodeReader(module_run(module))
    state = reader.read(files=list(p['files']), units=list(p['units']), packages=p['packages'], nft=p['nft'])
    changes = host_changes(state, p)
    result = dict(changed=False, changes=changes, state=state)
    if module._diff and changes:
        result['diff'] = {'prepared': diff_text(changes)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
