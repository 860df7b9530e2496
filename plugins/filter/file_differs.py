# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.file_differs: whether a file as node_state read it differs from what a task writes."""

import hashlib

from ansible_collections.lab.multihost.plugins.module_utils.plan.host import file_reasons

DOCUMENTATION = r'''
name: file_differs
short_description: Whether a file as lab.multihost.node_state read it differs from the wanted one
description:
  - True when the file is missing, or its content, mode, owner or group is not the one given.
  - Lets a task that writes a file run only when it would change it, after one node_state
    read of every file a stage writes.
positional: _input, content, mode
options:
  _input:
    description: The file's entry in node_state's C(state.files).
    type: dict
    required: true
  content:
    description: The content the task writes (compared by SHA-1); omit to compare mode and owner only.
    type: str
  mode:
    description: The mode the task sets, e.g. C('0644').
    type: str
  owner:
    description: The owner the task sets.
    type: str
  group:
    description: The group the task sets.
    type: str
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Write the ruleset only when the node's copy differs
  ansible.builtin.template:
    src: lab-fence.nft.j2
    dest: /etc/lab-fence.nft
    mode: "0600"
  when: >-
    fence_state.state.files['/etc/lab-fence.nft']
    | lab.multihost.file_differs(lookup('ansible.builtin.template', 'lab-fence.nft.j2'), '0600')
'''

RETURN = r'''
_value:
  description: True when the file would change.
  type: bool
'''


def file_differs(facts, content=None, mode=None, owner=None, group=None):
    # The comparison is host_plan's (plan.host.file_reasons), for the stages that still gate in Jinja.
    checksum = None if content is None else hashlib.sha1(str(content).encode('utf-8')).hexdigest()
    return bool(file_reasons(facts, {'checksum': checksum, 'mode': mode, 'owner': owner, 'group': group}))


class FilterModule:
    def filters(self):
        return {'file_differs': file_differs}
