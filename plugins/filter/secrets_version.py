# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.secrets_version: a lab container's label for the secret files it mounts."""

import hashlib

from ansible_collections.lab.multihost.plugins.module_utils.plan.docker import secrets_version as _version

DOCUMENTATION = r'''
name: secrets_version
short_description: A lab container's label for the secret files it mounts
description:
  - From path -> content of the secret files, the value of the container's label
    C(lab.multihost.secrets); never the content itself.
  - The decision of M(lab.multihost.node_state) computes the same value from the SHA-1 of each
    file (a want's, or the node's file as read) for a container whose want lists C(secrets), so
    new content is a changed container, and a stage that does not hold the secret on the
    controller still finds a container that matches the files on its node.
positional: _input
options:
  _input:
    description: Path -> the content written there.
    type: dict
    required: true
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Label the container with its secrets' version
  community.docker.docker_container:
    name: app
    image: app:1
    labels:
      lab.multihost.secrets: "{{ {'/opt/lab/secrets/redis-password': password} | lab.multihost.secrets_version }}"
'''

RETURN = r'''
_value:
  description: Twelve hex digits.
  type: str
'''


def secrets_version(contents):
    return _version({path: hashlib.sha1(str(text).encode('utf-8')).hexdigest() for path, text in contents.items()})


class FilterModule:
    def filters(self):
        return {'secrets_version': secrets_version}
