# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Callback lab.multihost.stage_recap: after the run, what changed in each stage of site.yml, per node."""

DOCUMENTATION = r'''
name: stage_recap
type: aggregate
short_description: What changed in each stage, per node, after the run
description:
  - At the end of a run, one line per stage of site.yml (the tag of the imported
    playbook, one of preflight, firewall, docker, etcd, overlay, networks, netns-lab, app)
    and node that changed something, naming the tasks that changed; a run that changed
    nothing says so in one line. Plays without a stage tag are grouped under their name.
  - Then the impairments in place on each node, as M(lab.multihost.node_state) with
    C(impairments=true) read them. An impairment is an experiment the user declared with
    M(lab.multihost.impair), left as it is.
  - Then how many module runs reached each node (loop items counted one by one;
    controller-side actions and tasks delegated to the controller not counted), which is
    what a run costs, since each is a round trip to the node.
requirements:
  - enabled in ansible.cfg (callbacks_enabled)
author:
  - Lab multihost maintainers (@lab-multihost)
'''

from ansible.plugins.callback import CallbackBase

STAGES = ('preflight', 'firewall', 'docker', 'etcd', 'overlay', 'networks', 'netns-lab', 'app')
# Actions that run on the controller only.
LOCAL = {'set_fact', 'assert', 'debug', 'fail', 'meta', 'include_tasks', 'include_role', 'import_tasks',
         'import_role', 'include_vars', 'add_host', 'group_by', 'set_stats', 'validate_argument_spec', 'pause'}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'lab.multihost.stage_recap'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._stage = None
        self._changed = {}  # (stage, host) -> [task names], in order
        self._reached = {}  # host -> module runs on it
        self._impaired = {}  # host -> impairment lines, from the last read of them

    def v2_playbook_on_play_start(self, play):
        tags = [t for t in play.tags if t in STAGES]
        self._stage = tags[0] if tags else play.get_name().strip()

    def _record(self, result):
        if result._result.get('changed'):
            key = (self._stage, result._host.get_name())
            name = result._task.get_name().strip()
            names = self._changed.setdefault(key, [])
            if name not in names:
                names.append(name)

    def _count(self, result):
        task = result._task
        action = task.action.rsplit('.', 1)[-1]
        delegated = task.delegate_to in ('localhost', '127.0.0.1')
        if action not in LOCAL and not delegated:
            host = result._host.get_name()
            self._reached[host] = self._reached.get(host, 0) + 1

    def _impairments(self, result):
        state = result._result.get('state')
        read = state.get('impairments') if isinstance(state, dict) else None
        if isinstance(read, list):
            self._impaired[result._host.get_name()] = [imp.get('summary', '?') for imp in read]

    def v2_runner_on_ok(self, result):
        self._record(result)
        self._impairments(result)
        if 'results' not in result._result:  # a loop's items were counted one by one
            self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if 'results' not in result._result:
            self._count(result)

    def v2_runner_item_on_ok(self, result):
        self._record(result)
        self._count(result)

    def v2_runner_item_on_failed(self, result):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        self._display.banner('STAGE RECAP')
        if not self._changed:
            self._display.display('nothing changed')
        for (stage, host), names in self._changed.items():
            self._display.display(f'{stage:10} {host:16} {len(names)} changed: {"; ".join(names)}')
        for host, lines in sorted(self._impaired.items()):
            for line in lines:
                self._display.display(f'impaired   {host:16} {line} (an experiment: left in place)')
        if self._reached:
            self._display.display('module runs that reached each node: '
                                  + ', '.join(f'{host} {n}' for host, n in sorted(self._reached.items())))
