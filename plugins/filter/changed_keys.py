# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.changed_keys: the top-level keys of a JSON document that a new one changes."""

DOCUMENTATION = r'''
name: changed_keys
short_description: The top-level keys whose values differ between two documents
description:
  - The keys of either dict whose values differ, sorted. A key missing on one side equals a null
    on the other (the docker role writes no null key). The docker role names them when it checks
    and applies a new daemon.json.
positional: _input, running
options:
  _input:
    description: The wanted document.
    type: dict
    required: true
  running:
    description: The document on the node.
    type: dict
    required: true
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Name the keys a new daemon.json changes
  ansible.builtin.debug:
    msg: "{{ {'debug': false, 'mtu': 1450} | lab.multihost.changed_keys({'debug': true}) }}"  # ['debug', 'mtu']
'''

RETURN = r'''
_value:
  description: Sorted key names.
  type: list
  elements: str
'''


def changed_keys(wanted, running):
    return sorted(key for key in set(wanted) | set(running) if wanted.get(key) != running.get(key))


class FilterModule:
    def filters(self):
        return {'changed_keys': changed_keys}
