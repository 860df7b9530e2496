# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lookup lab.multihost.engine_containers: the containers the controller's Docker Engine runs."""

DOCUMENTATION = r'''
name: engine_containers
short_description: The names of the containers the controller's Docker Engine runs, in-process
description:
  - Asks the Docker Engine on the controller, through its API on the unix socket, which containers
    run, inside the controller's process (the lab's one Engine API client) instead of a module run.
    The local lab's preflight finds its powered-off nodes with it.
  - The socket is the one C(DOCKER_HOST) names where it is a C(unix://) address, else
    C(/var/run/docker.sock). Fails, naming the socket, where the engine does not answer.
options: {}
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Stop where this node's container does not run
  ansible.builtin.fail:
    msg: "{{ inventory_hostname }} is powered off"
  when: inventory_hostname not in lookup('lab.multihost.engine_containers')
'''

RETURN = r'''
_list:
  description: The names of the running containers, without the leading slash.
  type: list
  elements: str
'''

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.lab.multihost.plugins.module_utils.readers.docker import DOCKER_SOCKET, engine_api


def engine_socket(environ):
    host = environ.get('DOCKER_HOST') or ''
    return host[len('unix://'):] if host.startswith('unix://') else DOCKER_SOCKET


def running_names(socket_path):
    listed = engine_api('/containers/json', socket_path=socket_path)
    if listed is None:
        raise AnsibleLookupError(f'the Docker Engine on the controller does not answer on {socket_path}')
    return sorted(name.lstrip('/') for c in listed for name in c.get('Names') or [])


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        return running_names(engine_socket(os.environ))
