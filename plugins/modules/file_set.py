#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: several files, each with its content, mode and owner, in one run."""

DOCUMENTATION = r'''
---
module: file_set
short_description: Write several files in one module run
description:
  - Writes each file whose content, mode, owner or group differs from what is declared,
    and leaves the others alone. One module run for the whole set, where M(ansible.builtin.copy)
    in a loop costs two runs and a transfer per file.
  - Every file to write is first staged beside its destination; only when all are staged
    are they renamed into place. A failure while staging changes nothing.
  - Missing parent directories are made with mode C(0755).
  - Meant for text the controller renders or reads (an engine's source files, a record);
    secrets belong in tasks with C(no_log).
options:
  files:
    description: The files.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The whole content (text).
        type: str
        required: true
      mode:
        description: Octal mode, as a string, e.g. C('0644').
        type: str
        required: true
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group; omitted means the owner's primary group.
        type: str
      keep_owner:
        description:
          - Keep the owner and group of a file that exists (another role may have given it
            away); I(owner) and I(group) then apply to a new file only.
        type: bool
        default: false
extends_documentation_fragment:
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Install the engine and its unit
  lab.multihost.file_set:
    files:
      - path: /usr/local/lib/lab-multihost/netns_engine.py
        content: "{{ lookup('ansible.builtin.file', 'netns_engine.py', rstrip=false) }}"
        mode: "0644"
      - path: /etc/systemd/system/netns-lab.service
        content: "{{ lookup('ansible.builtin.template', 'netns-lab.service.j2') }}"
        mode: "0644"
  register: engine_files
'''

RETURN = r'''
changed_files:
  description: Path -> why it was (in check mode, would be) written (missing, content, mode, owner).
  returned: always
  type: dict
  sample: {/etc/systemd/system/netns-lab.service: content}
'''

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.file_set import apply, plan, read_text


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                content=dict(type='str', required=True),
                mode=dict(type='str', required=True),
                owner=dict(type='str', default='root'),
                group=dict(type='str'),
                keep_owner=dict(type='bool', default=False),
            )),
        ),
        supports_check_mode=True,
    )
    files = module.params['files']
    for f in files:
        if not os.path.isabs(f['path']):
            module.fail_json(msg=f"files: path {f['path']!r} must be absolute")
        if not re.fullmatch(r'0?[0-7]{3,4}', f['mode']):
            module.fail_json(msg=f"files: mode {f['mode']!r} of {f['path']} must be octal, e.g. '0644'")
    try:
        changes = plan(files)
    except KeyError as exc:
        module.fail_json(msg=f"files: unknown owner or group: {exc}")
    result = {'changed': bool(changes), 'changed_files': dict(changes)}
    if module._diff:
        by_path = {f['path']: f for f in files}
        result['diff'] = [{'before_header': p, 'after_header': p, 'before': read_text(p),
                           'after': by_path[p]['content']} for p, _why in changes]
    if changes and not module.check_mode:
        try:
            apply(files, changes)
        except OSError as exc:
            module.fail_json(msg=f"writing {exc.filename}: {exc.strerror}", changed_files=dict(changes))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
