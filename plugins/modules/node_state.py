#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: what a node holds now, read in one round trip."""

DOCUMENTATION = r'''
---
module: node_state
short_description: Read what a node holds now in one round trip
description:
  - Reads, in one module run, the parts of a node's state a stage of the lab compares with
    what it wants, so that only the tasks that change something reach the node. Nothing is
    cached between runs; every run reads the node as it is.
  - Files (existence, type, mode, owner, group, SHA-1 of a regular file), systemd units
    (loaded, enabled, active), Debian packages (installed version), the Docker Engine
    (version, swarm state, networks, containers with their labels, image references),
    whether an nftables table in the kernel is the one a ruleset
    file loads, whether an etcd member answers healthy, the contents of small files, what the recovery engine
    (M(lab.multihost.overlay_recover)) would repair, and what
    M(lab.multihost.netns_topology) would change for each of a list of topologies, and the
    impairments M(lab.multihost.impair) declared on the node, read back from the kernel and
    the listener.
  - Read-only.
options:
  files:
    description: Paths to read.
    type: list
    elements: path
    default: []
  units:
    description: systemd units to read.
    type: list
    elements: str
    default: []
  packages:
    description: Debian packages to read.
    type: list
    elements: str
    default: []
  docker:
    description: Read the Docker Engine through its API on C(/var/run/docker.sock) (C(null) when it does not answer).
    type: bool
    default: false
  contents:
    description:
      - Small files whose contents to return, base64-encoded; for a secret, register the result with C(no_log).
    type: list
    elements: path
    default: []
  recovery:
    description:
      - What the recovery engine would repair now, as M(lab.multihost.overlay_recover) with C(mode=check)
        plans it.
    type: bool
    default: false
  etcd_health:
    description: Ask an etcd member whether it is healthy (C(etcdctl endpoint health), v3 API).
    type: dict
    suboptions:
      endpoint:
        description: The member's client URL.
        type: str
        required: true
      cacert:
        description: CA certificate that signed the member's certificate (TLS).
        type: path
      cert:
        description: Client certificate (TLS).
        type: path
      key:
        description: Client key (TLS).
        type: path
  netns_topologies:
    description:
      - Topologies as M(lab.multihost.netns_topology) takes them (C(name), C(namespaces), C(bridges),
        C(veths), C(state)), planned by the same engine in check mode.
    type: list
    elements: dict
    default: []
  impairments:
    description:
      - Read back every impairment M(lab.multihost.impair) declared on the node, with what it sets,
        the backend, whether it is in force and its fail-open counters. An impairment is an
        experiment the user declared, never drift.
    type: bool
    default: false
requirements:
  - python3; systemctl, dpkg-query, ip, nft and unshare for the parts asked for, and the Docker socket
extends_documentation_fragment:
  - lab.multihost.nft_table
  - lab.multihost.attributes.info_module
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Read the fence's files, unit and rules
  lab.multihost.node_state:
    files: [/etc/lab-fence.nft, /etc/systemd/system/lab-fence.service]
    units: [lab-fence]
    packages: [nftables]
    nft: {table: inet lab_fence, ruleset: /etc/lab-fence.nft}
  register: fence_state

- name: Load the fence again when the kernel holds other rules
  ansible.builtin.command: nft -f /etc/lab-fence.nft
  when: not fence_state.state.nft['inet lab_fence']
  changed_when: true
'''

RETURN = r'''
state:
  description: What was asked for.
  returned: always
  type: dict
  contains:
    files:
      description:
        - Path -> C(exists), and for an existing path C(type) (file, directory, other), C(mode) (C(0644)),
          C(mtime), C(owner), C(group), and C(checksum) (SHA-1) of a regular file.
      type: dict
    units:
      description: Unit -> C(loaded), C(enabled), C(active).
      type: dict
    packages:
      description: Package -> installed version, or null.
      type: dict
    docker:
      description:
        - C(version), C(swarm) (LocalNodeState), C(swarm_control) (a manager), C(swarm_node_id), C(networks)
          (name -> id, driver, scope, subnets), C(containers) (name -> running, status, image, labels, networks,
          restart_policy), C(images) (references); null when no engine answers.
      type: dict
      returned: when docker is true
    nft:
      description: Table -> whether the kernel holds it as the ruleset loads it.
      type: dict
      returned: when nft is set
    contents:
      description: Path -> its contents, base64-encoded, or null when it cannot be read.
      type: dict
      returned: when contents is set
    recovery:
      description: The recovery engine's plan, as M(lab.multihost.overlay_recover) returns it.
      type: dict
      returned: when recovery is true
    etcd_healthy:
      description: Whether the member answered healthy within a few seconds.
      type: bool
      returned: when etcd_health is set
    netns_topologies:
      description:
        - Topology name -> C(differs) and C(operations), what a run of M(lab.multihost.netns_topology)
          would do; or C(error), the message it would fail with.
      type: dict
      returned: when netns_topologies is set
    impairments:
      description: The impairments in place, each as M(lab.multihost.impair) returns C(impairment).
      type: list
      elements: dict
      returned: when impairments is true
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.node_state import NFT_OPTION, NodeReader, module_run


def netns_plan(topology):
    # Imported only where asked for: most reads need neither engine.
    from ansible_collections.lab.multihost.plugins.module_utils.netns_common import NetnsError
    from ansible_collections.lab.multihost.plugins.module_utils.netns_engine import converge

    spec = {key: topology.get(key) or [] for key in ('namespaces', 'bridges', 'veths')}
    try:
        result = converge(dict(spec, state=topology.get('state', 'present')), check_mode=True)
    except NetnsError as exc:
        return {'differs': True, 'error': exc.msg}
    return {'differs': result['changed'], 'operations': result['operations']}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='path', default=[]),
            units=dict(type='list', elements='str', default=[]),
            packages=dict(type='list', elements='str', default=[]),
            docker=dict(type='bool', default=False),
            contents=dict(type='list', elements='path', default=[]),
            recovery=dict(type='bool', default=False),
            netns_topologies=dict(type='list', elements='dict', default=[]),
            impairments=dict(type='bool', default=False),
            etcd_health=dict(type='dict', options=dict(endpoint=dict(type='str', required=True),
                                                       cacert=dict(type='path'), cert=dict(type='path'),
                                                       key=dict(type='path'))),
            nft=NFT_OPTION,
        ),
        supports_check_mode=True,
    )
    p = module.params
    reader = NodeReader(module_run(module))
    state = reader.read(files=p['files'], units=p['units'], packages=p['packages'], docker=p['docker'],
                        nft=p['nft'], contents=p['contents'], etcd_health=p['etcd_health'])
    if p['recovery']:
        from ansible_collections.lab.multihost.plugins.module_utils.overlay_recover import (
            NodeRunner,
            RecoverFailed,
            local_run,
        )
        try:
            plan = NodeRunner(local_run).check()
        except RecoverFailed as exc:
            module.fail_json(msg=f'recovery engine: {exc.message}', state=state)
        if plan.error:
            module.warn(plan.error)
        state['recovery'] = plan.to_json()
    if p['netns_topologies']:
        state['netns_topologies'] = {t.get('name', str(i)): netns_plan(t) for i, t in enumerate(p['netns_topologies'])}
    if p['impairments']:
        from ansible_collections.lab.multihost.plugins.module_utils.impair.engine import read_all
        state['impairments'] = read_all()
    module.exit_json(changed=False, state=state)


if __name__ == '__main__':
    main()
