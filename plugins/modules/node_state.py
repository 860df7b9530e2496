#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: what a node holds now, read in one round trip."""

DOCUMENTATION = r'''
---
module: node_state
short_description: A stage's one read of a node, and its decision on what to change
description:
  - Reads, in one module run, the parts of a node's state a stage of the lab compares with
    what it wants, and decides there what to change, so that only the tasks that change
    something reach the node. Nothing is cached between runs; every run reads the node as it is.
  - The stage hands what it wants as C(want) (files by SHA-1, mode, owner and group;
    directories and links; units enabled and active; packages; an nftables table; Docker
    networks, images and containers). C(changes) returns every difference, keyed by what to
    change (C(file:PATH), C(unit:NAME), C(package:NAME), C(nft:TABLE), C(network:NAME),
    C(image:REFERENCE), C(container:NAME)), with its reasons. The stage's tasks act on those
    keys only; none of them compares again. On a converged node C(changes) is empty.
  - The other options read without deciding. Files (existence, type, mode, owner, group, SHA-1
    of a regular file, a link's target), systemd units (loaded, enabled, active), Debian
    packages (installed version), the Docker Engine (version, swarm state, networks,
    containers with their labels, image references), whether an etcd member answers healthy,
    the contents of small files, what the recovery engine (M(lab.multihost.overlay_recover))
    would repair, what M(lab.multihost.netns_topology) would change for each of a list of
    topologies, and the impairments M(lab.multihost.impair) declared on the node, read back
    from the kernel and the listener.
  - Check mode is the plan. C(changes) then holds the changes the stage's own tasks can preview
    on the node as it is; C(waiting) holds those that wait for something an earlier step of a
    real run makes first (apt's lists hold no version of a package to install, a unit not
    loaded yet, a file's owner that a package creates, no engine answering). The module reports
    those itself, as changed and in its diff, and the stage's tasks for them do not run.
  - Read-only. File contents never travel to the node for a comparison; the stage sends their SHA-1.
options:
  wants:
    description:
      - Several stages' wants, by stage name, each as O(want). The node is read once for all of
        them (the union of their files, units and packages) and each is decided on its own;
        RV(stages) returns each stage's C(changes) and C(waiting). The lab's one read of a node
        per run (role C(_common), C(tasks_from=preflight)) hands every host-level stage's want here.
    type: dict
  want:
    description: What the stage wants on the node; every part optional.
    type: dict
    suboptions:
      files:
        description:
          - Path -> what the stage wants of it, every key optional. C(state=absent) for a path that
            must not exist (reason C(present)). C(type) is C(file) (default
            with a C(checksum)), C(directory) or C(link); C(checksum) the SHA-1 of the content;
            C(target) of a link; C(mode) as C(0644); C(owner) and C(group) by name.
          - M(lab.multihost.file_wants) turns rendered contents into this.
        type: dict
        default: {}
      units:
        description: Unit -> C(enabled) and C(active), each true when wanted.
        type: dict
        default: {}
      packages:
        description: Debian packages that must be installed.
        type: list
        elements: str
        default: []
      nft:
        description:
          - An nftables table the kernel must hold as its ruleset file loads it (loaded in a
            scratch network namespace; both printed by C(nft -s), without counter values).
        type: dict
        suboptions:
          table:
            description: Family and name, e.g. C(inet lab_fence).
            type: str
            required: true
          ruleset:
            description: The ruleset file on the node.
            type: path
            required: true
      networks:
        description: Docker networks (C(name), C(driver), optional C(subnet)) the engine must hold.
        type: list
        elements: dict
        default: []
      images:
        description: Image references the engine must hold.
        type: list
        elements: str
        default: []
      containers:
        description:
          - Container name -> C(spec), the value its C(lab.multihost.spec) label must have, and
            C(network), which it must be attached to. It must run.
          - C(secrets), the paths of the secret files it mounts (each in O(want.files)). Its
            C(lab.multihost.secrets) label must be their version (filter C(lab.multihost.secrets_version)),
            from the content the want gives a file, else from the file as the node holds it.
        type: dict
        default: {}
      restarts:
        description:
          - Unit -> C(pid), the pid file the daemon writes when it starts, and C(reads), files it reads
            only at start. One newer than the pid file is a restart (key C(restart:UNIT)). All are read.
        type: dict
        default: {}
      topologies:
        description:
          - Names of the namespace topologies read with O(netns_topologies) that must need no change
            (reason the engine's planned operations, key C(topology:NAME)).
        type: list
        elements: str
        default: []
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
      - Where the same run reads the engine (O(docker) or a want of the engine) and none answers, the
        engine is not asked and C(state.recovery) is null.
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
  - lab.multihost.attributes.info_module
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Read and decide the fence
  lab.multihost.node_state:
    want:
      files: "{{ {'/etc/lab-fence.nft': {'content': ruleset, 'mode': '0600'}} | lab.multihost.file_wants }}"
      units: {lab-fence: {enabled: true, active: true}}
      packages: [nftables]
      nft: {table: inet lab_fence, ruleset: /etc/lab-fence.nft}
  register: fence

- name: Write the ruleset where the decision says so
  ansible.builtin.copy:
    content: "{{ ruleset }}"
    dest: /etc/lab-fence.nft
    mode: "0600"
  when: "'file:/etc/lab-fence.nft' in fence.changes"

- name: Read once for two stages, each decided on its own
  lab.multihost.node_state:
    wants:
      firewall: {packages: [nftables], units: {lab-fence: {enabled: true, active: true}}}
      docker: {packages: [docker.io], units: {docker: {enabled: true, active: true}}}
  register: node_read  # node_read.stages.docker.changes

- name: Read the impairments in place
  lab.multihost.node_state:
    impairments: true
  register: impair_read
'''

RETURN = r'''
changes:
  description:
    - Key -> reasons, one entry per thing to change, in the order a stage applies them (packages,
      files, units, the kernel's rules, networks, images, containers). Reasons are C(missing),
      C(not a file), C(not a directory), C(not a link), C(content), C(target), C(mode), C(owner),
      C(group), C(not loaded), C(disabled), C(stopped), C(not installed),
      C(not loaded in the kernel as the ruleset has it), C(driver), C(subnet), C(detached),
      C(spec) and C(no engine answers).
      A package to install also says the version apt's lists offer, or that they hold none.
    - Empty without C(want), and on a converged node.
  returned: always
  type: dict
  sample: {"file:/etc/lab-fence.nft": ["content"], "unit:lab-fence": ["stopped"]}
stages:
  description:
    - With O(wants), each stage's decision on the one read, by stage name, each as RV(changes)
      and RV(waiting). Empty without O(wants).
  returned: always
  type: dict
  sample: {"firewall": {"changes": {}, "waiting": {}},
           "docker": {"changes": {"unit:docker": ["stopped"]}, "waiting": {}}}
wants:
  description:
    - O(wants) as given, what each stage's part was decided on.
  returned: with O(wants)
  type: dict
waiting:
  description:
    - In check mode, the changes no task of the stage can preview yet, key -> reasons, the last
      one saying what each waits for. Empty outside check mode.
  returned: always
  type: dict
  sample: {"unit:docker": ["not loaded", "disabled", "stopped", "a real run installs the unit first"]}
state:
  description: What was asked for, C(want) included.
  returned: always
  type: dict
  contains:
    files:
      description:
        - Path -> C(exists), and for an existing path C(type) (file, directory, link, other), C(mode) (C(0644)),
          C(mtime), C(owner), C(group), C(checksum) (SHA-1) of a regular file, C(target) of a link.
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
      returned: when want has nft
    contents:
      description: Path -> its contents, base64-encoded, or null when it cannot be read.
      type: dict
      returned: when contents is set
    recovery:
      description:
        - The recovery engine's plan, as M(lab.multihost.overlay_recover) returns it; null where no engine
          answers.
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
from ansible_collections.lab.multihost.plugins.module_utils.plan import ENGINE_WANTS, decide_each
from ansible_collections.lab.multihost.plugins.module_utils.plan.host import diff_text
from ansible_collections.lab.multihost.plugins.module_utils.readers.node import NodeReader
from ansible_collections.lab.multihost.plugins.module_utils.readers.run import module_run

WANT_OPTION = dict(type='dict', options=dict(
    files=dict(type='dict', default={}),
    units=dict(type='dict', default={}),
    packages=dict(type='list', elements='str', default=[]),
    nft=dict(type='dict', options=dict(table=dict(type='str', required=True),
                                       ruleset=dict(type='path', required=True))),
    networks=dict(type='list', elements='dict', default=[]),
    images=dict(type='list', elements='str', default=[]),
    containers=dict(type='dict', default={}),
    topologies=dict(type='list', elements='str', default=[]),
    restarts=dict(type='dict', default={}),
))


def netns_plan(topology):
    # Imported only where asked for: most reads need neither engine.
    from ansible_collections.lab.multihost.plugins.module_utils.netns.common import NetnsError
    from ansible_collections.lab.multihost.plugins.module_utils.netns.engine import converge

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
            want=WANT_OPTION,
            wants=dict(type='dict'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    stages = {name: _stage_want(module, name, want) for name, want in (p['wants'] or {}).items()}
    if p['want'] is not None:
        stages[None] = p['want']
    wanted = list(stages.values())
    files = _union(p['files'], *[w.get('files') for w in wanted],
                   *[[r['pid'], *(r.get('reads') or [])] for w in wanted for r in (w.get('restarts') or {}).values()])
    nft = next((w['nft'] for w in wanted if w.get('nft')), None)
    reader = NodeReader(module_run(module))
    state = reader.read(files=files, units=_union(p['units'], *[w.get('units') for w in wanted]),
                        packages=_union(p['packages'], *[w.get('packages') for w in wanted]),
                        docker=p['docker'] or any(w.get(key) for w in wanted for key in ENGINE_WANTS),
                        nft=nft, contents=p['contents'], etcd_health=p['etcd_health'],
                        owners=_owners(*[w.get('files') for w in wanted]) if module.check_mode else None)
    if p['netns_topologies']:
        state['netns_topologies'] = {t.get('name', str(i)): netns_plan(t) for i, t in enumerate(p['netns_topologies'])}
    decided = decide_each(state, stages, module.check_mode)
    if p['recovery'] and state.get('docker', True) is None:
        state['recovery'] = None
    elif p['recovery']:
        from ansible_collections.lab.multihost.plugins.module_utils.recovery.act import (
            NodeRunner,
        )
        from ansible_collections.lab.multihost.plugins.module_utils.recovery.observe import (
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
    if p['impairments']:
        from ansible_collections.lab.multihost.plugins.module_utils.impair.engine import read_all
        state['impairments'] = read_all()
    # In check mode the decision reports, as its own change, what no task of the stage can preview.
    one = decided.pop(None, {'changes': {}, 'waiting': {}})
    result = dict(changed=any(d['waiting'] for d in [one, *decided.values()]), changes=one['changes'],
                  waiting=one['waiting'], stages=decided, state=state)
    if p['wants']:
        result['wants'] = p['wants']
    if module._diff:
        lines = diff_text({**one['changes'], **one['waiting']}) + ''.join(
            f'{name}: {line}\n' for name, d in decided.items()
            for line in diff_text({**d['changes'], **d['waiting']}).splitlines())
        if lines:
            result['diff'] = {'prepared': lines}
    module.exit_json(**result)


def _stage_want(module, name, want):
    """One stage's want of C(wants), checked as C(want) is, its parts defaulted."""
    if not isinstance(want, dict):
        module.fail_json(msg=f'wants.{name}: must be a dict (as want)')
    unknown = sorted(set(want) - set(WANT_OPTION['options']))
    if unknown:
        module.fail_json(msg=f"wants.{name}: unknown part(s) {', '.join(unknown)}; a want has "
                             f"{', '.join(sorted(WANT_OPTION['options']))}")
    return {key: want.get(key) or spec.get('default') for key, spec in WANT_OPTION['options'].items()}


def _owners(*files):
    """(users, groups) the wanted files name."""
    specs = [spec for each in files for spec in (each or {}).values() if spec.get('state') != 'absent']
    return (sorted({str(s['owner']) for s in specs if s.get('owner') is not None}),
            sorted({str(s['group']) for s in specs if s.get('group') is not None}))


def _union(read, *wanted):
    """The paths, units or packages read alone, then those the stages want (their order kept)."""
    return list(dict.fromkeys(list(read or []) + [item for each in wanted for item in (each or [])]))


if __name__ == '__main__':
    main()
