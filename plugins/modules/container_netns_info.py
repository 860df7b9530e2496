#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: container interfaces and the host veths they pair with."""

DOCUMENTATION = r'''
---
module: container_netns_info
short_description: Map running Docker containers' interfaces to their peers
description:
  - For every running Docker container (or those named), reports its network namespace
    (pid and sandbox key path) and its interfaces with addresses and MTU.
  - For each veth interface it names the peer, found by the iflink index pair
    (C(link_index) of one end is the other's ifindex and vice versa). The peer is either
    a host veth (name, ifindex and the bridge it is enslaved to, e.g. C(docker0),
    C(br-<id>), C(docker_gwbridge)), or a veth in another Docker namespace such as an
    overlay's C(/var/run/docker/netns/1-<netid>), reported with that path and network.
  - Answers "which vethXXXX is my container's eth0?".
  - Uses the C(docker) CLI (C(docker ps), C(docker inspect)), C(nsenter) and C(ip -j);
    no docker Python SDK. Read-only.
options:
  names:
    description: Container names or ids; omitted means all running containers.
    type: list
    elements: str
  docker_cli:
    description: The docker CLI to run.
    type: str
    default: docker
requirements:
  - docker CLI, iproute2, nsenter (util-linux)
extends_documentation_fragment:
  - lab.multihost.attributes.info_module
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Which host veth is each container's eth0?
  lab.multihost.container_netns_info:
  register: cni

- name: Show the host side of web's eth0
  ansible.builtin.debug:
    msg: "{{ (cni.containers | selectattr('name', 'eq', 'web') | first).interfaces
             | selectattr('name', 'eq', 'eth0') | map(attribute='peer') | first }}"
'''

RETURN = r'''
containers:
  description: One entry per running container.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Container id.
      type: str
    name:
      description: Container name.
      type: str
    pid:
      description: PID of the container's main process.
      type: int
    sandbox_key:
      description: Path of the container's network namespace.
      type: str
      sample: /var/run/docker/netns/6c5f0e9b1a2d
    networks:
      description: Docker networks the container is attached to.
      type: list
      elements: str
    interfaces:
      description: The container's interfaces.
      type: list
      elements: dict
      contains:
        name:
          description: Interface name in the container.
          type: str
        ifindex:
          description: Interface index in the container's namespace.
          type: int
        kind:
          description: Link kind (veth, vxlan, ...), null for lo.
          type: str
        mtu:
          description: MTU.
          type: int
        addresses:
          description: CIDR addresses (no IPv6 link-local).
          type: list
          elements: str
        up:
          description: Whether the interface is administratively up.
          type: bool
        peer:
          description:
            - For a veth, its other end; null otherwise or if not found.
            - C(namespace) is C(host) or the Docker namespace path;
              C(namespace_kind) (overlay or docker) and C(network) for non-host peers.
          type: dict
          sample: {"name": "vethb975913", "ifindex": 6, "bridge": "docker0", "namespace": "host"}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.netns.common import NetnsError
from ansible_collections.lab.multihost.plugins.module_utils.netns.docker import container_info


def main():
    module = AnsibleModule(
        argument_spec={
            'names': {'type': 'list', 'elements': 'str'},
            'docker_cli': {'type': 'str', 'default': 'docker'},
        },
        supports_check_mode=True,
    )
    try:
        containers = container_info(names=module.params['names'],
                                    docker=module.params['docker_cli'])
    except NetnsError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, containers=containers)


if __name__ == '__main__':
    main()
