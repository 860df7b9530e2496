#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: overlay-recover's repair of a node, over its engine."""

DOCUMENTATION = r'''
---
module: overlay_recover
short_description: Bring a node's containers back onto its overlays after an unclean stop
description:
  - Reads the node (dockerd's log of its current run, dockerd's threads, the exited containers,
    the cluster store's endpoint records) and plans what overlay-recover does after a power loss
    or any unclean stop (docs/recovery.md).
  - dockerd is restarted when its log shows a failed overlay endpoint restore, an endpoint restored
    or a peer learned without a node address, or (swarm) a lost gossip identity, or when one of its
    threads sits in the namespace of a removed overlay; at most twice in a row.
  - Containers that should run (restart policy C(always) or C(unless-stopped)) and exited with an
    overlay network error are started; a container stopped by hand stays stopped.
  - Cluster-store only, an endpoint that refuses a start (C(endpoint with name X already exists))
    is removed when the store records it for this node and its container here is not running;
    nothing else is removed.
  - With O(mode=check) or in check mode it only reads and returns the plan.
  - V(restart) is the one way dockerd restarts for any other reason too (a new configuration or
    certificate, a restore) - the docker role's restart tasks call it - so every restart clears
    systemd's start limit and waits for the engine in the same way.
options:
  mode:
    description:
      - V(repair) carries the plan out (restart dockerd and wait for it, clear, start);
        V(check) only returns the plan; V(restart) restarts dockerd for O(reason) and waits for it.
    type: str
    choices: [check, repair, restart]
    default: repair
  reason:
    description:
      - Why dockerd restarts, for the log line (V(restart) only).
    type: str
    default: asked to restart
requirements:
  - dockerd under systemd (docker.service), journalctl; etcdctl (or the etcd role's
    lab-etcdctl) for the cluster-store backend
notes:
  - Every wait is bounded (dockerd 120 s, etcd 120 s, swarm 600 s, 30 rounds of starts).
  - On cluster-store the etcd it waits for and reads is the store daemon.json's C(cluster-store)
    names, not necessarily this node's own member.
  - C(changed) is true when the module restarted dockerd, removed an endpoint or started a
    container; in check mode, when it would. V(check) never reports a change.
extends_documentation_fragment:
  - lab.multihost.attributes
attributes:
  diff_mode:
    details: Before and after of dockerd, each container to start and each endpoint to clear.
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Look for what an unclean stop left behind
  lab.multihost.overlay_recover:
    mode: check
  register: leftovers

- name: Repair it, one node at a time
  lab.multihost.overlay_recover:
    mode: repair
  throttle: 1
  when: leftovers.plan.restart_dockerd or leftovers.plan.start | length > 0

- name: Restart dockerd for a new daemon.json
  lab.multihost.overlay_recover:
    mode: restart
    reason: daemon.json changed
'''

RETURN = r'''
plan:
  description: What the module found to do (in repair mode, before it acted).
  returned: in modes check and repair
  type: dict
  contains:
    repairs:
      description:
        - Whether C(mode=repair) has something to do (restart dockerd, start containers, clear
          endpoints) or a refused restart to report; playbooks gate the repair on it.
      type: bool
      sample: false
    settled:
      description:
        - dockerd needs no restart and no container waits to be started (stale endpoints may
          remain); what a wait for the node's own recovery unit waits for.
      type: bool
      sample: true
    restart_dockerd:
      description: Whether dockerd's current run needs a restart.
      type: bool
      sample: true
    reason:
      description: Why dockerd needs a restart; empty when it does not.
      type: str
      sample: dockerd could not restore overlay endpoints after an unclean stop
    error:
      description: Set when the restart is due but dockerd was already restarted twice in a row.
      type: str
      sample: ""
    start:
      description: The containers to start.
      type: list
      elements: str
      sample: [redis]
    start_reasons:
      description: For each container to start, the network error it exited with.
      type: dict
      sample: {redis: network sandbox join failed}
    clear:
      description: Stale endpoints to remove, each with C(name) and C(network).
      type: list
      elements: dict
      sample: [{name: redis, network: demo}]
    left_alone:
      description: Endpoints that refused a start and stay, each with C(name), C(network) and C(reason).
      type: list
      elements: dict
      sample: [{name: app, network: demo, reason: "not this node's"}]
    backend:
      description: The overlay backend, C(cluster-store) or C(swarm).
      type: str
      sample: cluster-store
actions:
  description: What it did, one line each, as overlay-recover logs it; empty in check mode.
  returned: always
  type: list
  elements: str
  sample: ["overlay-recover: removed the stale endpoint redis from demo", "overlay-recover: started redis"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.recovery.act import (
    NodeRunner,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.observe import (
    RecoverFailed,
    local_run,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.plan import (
    plan_diff,
)


def main():
    module = AnsibleModule(
        argument_spec={'mode': {'type': 'str', 'default': 'repair', 'choices': ['check', 'repair', 'restart']},
                       'reason': {'type': 'str', 'default': 'asked to restart'}},
        supports_check_mode=True,
    )
    runner = NodeRunner(local_run)
    if module.params['mode'] == 'restart':
        if not module.check_mode:
            try:
                runner.restart(module.params['reason'])
            except RecoverFailed as exc:
                module.fail_json(msg=exc.message, actions=exc.actions)
        result = {'changed': True, 'actions': runner.actions}
        if module._diff:
            result['diff'] = {'before': 'dockerd: running\n',
                              'after': f"dockerd: restarted ({module.params['reason']})\n"}
        module.exit_json(**result)
    only_read = module.check_mode or module.params['mode'] == 'check'
    try:
        if only_read:
            plan = runner.check()
            changed = module.check_mode and module.params['mode'] == 'repair' and plan.acts
        else:
            runner.recover(boot=False)
            plan = runner.plans[0]
            changed = runner.changed
    except RecoverFailed as exc:
        module.fail_json(msg=exc.message, actions=exc.actions,
                         plan=runner.plans[0].to_json() if runner.plans else {})
    if plan.error and only_read:
        module.warn(plan.error)
    result = {'changed': changed, 'plan': plan.to_json(), 'actions': runner.actions}
    if module._diff and (changed or only_read):
        result['diff'] = plan_diff(plan)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
