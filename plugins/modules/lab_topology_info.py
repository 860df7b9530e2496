#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: one node's network topology (namespaces, veths, bridges,
overlays, Docker networks and containers, etcd), read-only."""

DOCUMENTATION = r'''
---
module: lab_topology_info
short_description: Read a node's network topology for the lab report
description:
  - Reads, without changing anything, what the lab report draws for one node.
  - Network namespaces, each with its links (C(ip -j -d addr show)), MAC, MTU and addresses;
    the host's, those of C(ip netns list), and Docker's under C(/var/run/docker/netns);
    containers' sandboxes and overlays' C(<n>-<network id>) namespaces.
  - Veth pairs with both ends and bridges with their ports, in every namespace.
  - For every overlay namespace its bridge (C(br0)), VXLAN device (C(vxlan0)), VNI, UDP port and
    the VXLAN forwarding entries (C(bridge -j fdb show dev vxlan0)) - which node each remote MAC is on.
  - Docker networks (driver, scope, subnets, MTU, VNI) and running containers as
    M(lab.multihost.container_netns_info) reports them, with each network's address and MAC.
  - etcd members and health (C(etcdctl member list), C(endpoint health --cluster)) and the
    overlay backend local fact.
  - Uses the C(docker) CLI, C(nsenter), C(ip -j), C(bridge -j) and C(etcdctl); no Python
    libraries beyond the standard library.
options:
  docker_cli:
    description: The docker CLI to run.
    type: str
    default: docker
  etcdctl:
    description:
      - The etcdctl command before its arguments, as a list; a wrapper that adds TLS
        options fits here.
      - When its first item is not found, etcd is reported as not available.
    type: list
    elements: str
    default: [etcdctl]
  etcd_env:
    description: Environment variables for etcdctl.
    type: dict
    default: {ETCDCTL_API: '3'}
  etcd_endpoints:
    description: Client URLs etcdctl starts from; C(endpoint health --cluster) then checks every member.
    type: list
    elements: str
    default: ['http://127.0.0.1:2379']
  backend_fact:
    description: Local fact file that records the overlay backend; reported as null when missing.
    type: path
    default: /etc/ansible/facts.d/overlay_backend.fact
requirements:
  - python3, iproute2 (C(ip), C(bridge)), nsenter (util-linux), docker CLI; etcdctl for the etcd part
extends_documentation_fragment:
  - lab.multihost.attributes.info_module
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Read the node's topology
  lab.multihost.lab_topology_info:
  register: topo

- name: Show the VNI of the overlay demo on this node
  ansible.builtin.debug:
    msg: "{{ (topo.topology.networks | selectattr('name', 'eq', 'demo') | first).vni }}"

- name: Ask etcd through a TLS wrapper
  lab.multihost.lab_topology_info:
    etcdctl: [/usr/local/bin/etcdctl-tls]
    etcd_endpoints: ['https://127.0.0.1:2379']
'''

RETURN = r'''
topology:
  description: The node's topology; docs/report.md in the project describes every field.
  returned: always
  type: dict
  contains:
    hostname:
      description: The node's host name.
      type: str
    backend:
      description: The overlay backend local fact (C(backend), C(docker_version)), or null.
      type: dict
      sample: {"backend": "cluster-store", "docker_version": "20.10"}
    namespaces:
      description:
        - One entry per network namespace - C(id) (C(host), the C(ip netns) name or the Docker path),
          C(kind) (host, named, container, overlay, docker), C(path) and C(links).
        - Each link has C(name), C(ifindex), C(kind), C(mac), C(mtu), C(up), C(master), C(addresses),
          C(peer_ifindex), C(peer_netnsid); a VXLAN device also C(vni) and C(port).
      type: list
      elements: dict
    veth_pairs:
      description: Both ends (C(namespace), C(name)) of each veth pair.
      type: list
      elements: list
      sample: [[{"namespace": "test1", "name": "veth-test1"}, {"namespace": "test2", "name": "veth-test2"}]]
    bridges:
      description: Bridges (C(namespace), C(name), C(addresses), C(mtu), C(up), C(ports)).
      type: list
      elements: dict
    overlays:
      description:
        - Each overlay namespace on this node - C(namespace), C(network), C(network_id), C(vni), C(port),
          C(vxlan), C(bridge), C(mtu), C(gateway) and C(fdb), its VXLAN forwarding entries
          (C(mac), C(dst), C(vni), C(flags), C(state)).
      type: list
      elements: dict
      sample: [{"network": "demo", "vni": 256, "port": 4789, "vxlan": "vxlan0", "bridge": "br0", "mtu": 1450,
                "fdb": [{"mac": "02:42:0a:00:00:fa", "dst": "192.168.205.11", "flags": ["self"]}]}]
    networks:
      description: Docker networks - C(name), C(id), C(driver), C(scope), C(subnets), C(mtu), C(vni), C(bridge).
      type: list
      elements: dict
    containers:
      description:
        - Running containers, each as M(lab.multihost.container_netns_info) returns it, plus
          C(image) and C(endpoints) (per network C(ip), C(prefixlen), C(mac), C(gateway)).
      type: list
      elements: dict
    etcd:
      description:
        - C(available), C(members) (C(id), C(name), C(peer_urls), C(client_urls)),
          C(health) (C(endpoint), C(health), C(error)) and C(error).
      type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.lab_topology import Gatherer
from ansible_collections.lab.multihost.plugins.module_utils.netns.common import NetnsError


def main():
    module = AnsibleModule(
        argument_spec={
            'docker_cli': {'type': 'str', 'default': 'docker'},
            'etcdctl': {'type': 'list', 'elements': 'str', 'default': ['etcdctl']},
            'etcd_env': {'type': 'dict', 'default': {'ETCDCTL_API': '3'}},
            'etcd_endpoints': {'type': 'list', 'elements': 'str', 'default': ['http://127.0.0.1:2379']},
            'backend_fact': {'type': 'path', 'default': '/etc/ansible/facts.d/overlay_backend.fact'},
        },
        supports_check_mode=True,
    )
    p = module.params
    gatherer = Gatherer(docker=p['docker_cli'], etcdctl=p['etcdctl'], etcd_env=p['etcd_env'],
                        etcd_endpoints=p['etcd_endpoints'], backend_fact=p['backend_fact'])
    try:
        topology = gatherer.gather()
    except NetnsError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, topology=topology)


if __name__ == '__main__':
    main()
