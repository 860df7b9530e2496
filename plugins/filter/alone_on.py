# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.alone_on: whether a container is the one running on its network."""

from ansible_collections.lab.multihost.plugins.module_utils.plan.docker import alone_on as _alone_on

DOCUMENTATION = r'''
name: alone_on
short_description: Whether a container is the one running container on a network of the node
description:
  - From the engine's read of M(lab.multihost.node_state) (C(containers), name -> running and
    networks), true when the named container is the only running one on the network.
  - Replacing such a container leaves the overlay with no container on the node, where Docker
    20.10 leaves a dockerd thread behind; check mode predicts the recovery engine's repair then.
positional: _input, name, network
options:
  _input:
    description: The engine's containers as read, name -> dict with C(running) and C(networks).
    type: dict
    required: true
  name:
    description: The container.
    type: str
    required: true
  network:
    description: The network.
    type: str
    required: true
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Predict the repair after replacing the app
  ansible.builtin.debug:
    msg: "{{ lab_node_read.engine.containers | lab.multihost.alone_on('app', 'demo') }}"
'''

RETURN = r'''
_value:
  description: True when the container is the one running container on the network.
  type: bool
'''


class FilterModule:
    def filters(self):
        return {'alone_on': _alone_on}
