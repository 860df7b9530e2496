# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.file_wants: a stage's rendered files as lab.multihost.node_state's want takes them."""

import hashlib

DOCUMENTATION = r'''
name: file_wants
short_description: A stage's rendered files as lab.multihost.node_state's want takes them
description:
  - Turns path -> C(content), C(mode), C(owner), C(group) into path -> C(checksum) (SHA-1 of the
    content, as the node's copy is hashed), C(mode), C(owner), C(group). The contents stay on the
    controller; the decision runs on the node.
  - An entry without C(content) is compared by its other keys (a directory, C(type=directory);
    a link, C(type=link) and C(target); a path that must not exist, C(state=absent)).
positional: _input
options:
  _input:
    description: Path -> what the stage writes there.
    type: dict
    required: true
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Read and decide the fence
  lab.multihost.node_state:
    want:
      files: "{{ {'/etc/lab-fence.nft': {'content': ruleset, 'mode': '0600'}} | lab.multihost.file_wants }}"
  register: fence
'''

RETURN = r'''
_value:
  description: Path -> C(type), C(checksum), C(target), C(mode), C(owner), C(group) (those given).
  type: dict
'''


KEYS = ('state', 'type', 'target', 'mode', 'owner', 'group')


def file_wants(files):
    out = {}
    for path, spec in files.items():
        want = {key: spec[key] for key in KEYS if spec.get(key) is not None}
        if spec.get('content') is not None:
            want['checksum'] = hashlib.sha1(str(spec['content']).encode('utf-8')).hexdigest()
        out[path] = want
    return out


class FilterModule:
    def filters(self):
        return {'file_wants': file_wants}
