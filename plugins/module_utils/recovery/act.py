# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Carrying a plan out: NodeRunner, an Observer that also restarts dockerd, starts containers
and clears stale endpoints (check, recover, the docker.service hooks)."""

from __future__ import annotations

from ansible_collections.lab.multihost.plugins.module_utils.recovery.model import (
    ASIDE,
    CLUSTER_STORE,
    ETCD_WAIT,
    GOSSIP_PORT,
    LOST_IDENTITY,
    LOST_MARK,
    MANAGER_WAIT,
    RESTARTS_FILE,
    ROUND_PAUSE,
    RUNNING_FILE,
    START_ROUNDS,
    STARTED_MARK,
    SWARM,
    SWARM_STATE,
    SWARM_WAIT,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.observe import (
    Observer,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.parse import (
    swarm_settled,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.plan import (
    forgetting_peer,
    joined_through,
    left_alone_line,
    start_pause,
)


class NodeRunner(Observer):
    """Reads a node (Observer) and carries plans out."""

    def clear(self, p):
        """Remove the stale endpoints: Docker deletes an endpoint by name once no container has it."""
        for s in p.left_alone:
            self.say(left_alone_line(s))
        for s in p.clear:
            if not self.ok(['docker', 'rename', s.name, s.name + ASIDE]):
                continue
            if self.ok(['docker', 'network', 'disconnect', '--force', s.network, s.name]):
                self.changed = True
                self.say(f'removed the stale endpoint {s.name} from {s.network}')
            self.run(['docker', 'rename', s.name + ASIDE, s.name])

    def restart_dockerd(self, p, boot):
        """Restart dockerd for p.reason; True when it was only queued (boot)."""
        if p.error:
            self.fail(p.error)
        self.files.write(RESTARTS_FILE, f'{p.restarts + 1}\n')
        return self.restart(p.reason, boot)

    def restart(self, reason, boot=False):
        """The one way dockerd restarts, whatever asks (recovery, a new configuration or
        certificate, a restore); True when it was only queued (boot)."""
        self.changed = True
        self.say(f'{reason}; restarting dockerd')
        if reason == LOST_IDENTITY:
            # Without its identity dockerd does not leave the gossip when it stops: the next start
            # waits as after an unclean stop (before_start, after_stop).
            self.files.write(RUNNING_FILE, LOST_MARK)
        if boot:
            # overlay-recover.service is part of docker.service: it runs again with it
            self.run(['systemctl', 'restart', '--no-block', 'docker.service'])
            return True
        # The unit or its drop-in may have changed; docker.service's own start limit
        # must not refuse an asked-for restart (the recovery count bounds its loop).
        self.run(['systemctl', 'daemon-reload'])
        self.run(['systemctl', 'reset-failed', 'docker.service'])
        rc, _out, err = self.run(['systemctl', 'restart', 'docker.service'])
        if rc != 0:
            self.fail(f'systemctl restart docker.service failed: {err.strip()}')
        self.wait_dockerd('dockerd did not come back')
        return False

    def before_start(self):
        """docker.service's ExecStartPre: the pause start_pause asks for (on a node that joined
        through a manager, until a peer no longer takes its old identity for alive); on such a
        node, the wait for its manager's gossip port (a node booting with its manager); then the
        mark that dockerd runs."""
        backend = self.daemon_json()[0]
        pause = start_pause(backend, self.files.read(RUNNING_FILE))
        manager = joined_through(self.files.read(SWARM_STATE)) if backend == SWARM else None
        if pause and manager:
            self.say(f"dockerd's last run did not leave the gossip cleanly; waiting (at most {pause} s) until "
                     'the swarm no longer takes its old identity for alive')
            connections = self.listen(pause)
            try:
                peer = forgetting_peer(connections)
            finally:
                getattr(connections, 'close', lambda: None)()
            self.say(f'{peer} no longer takes the old identity for alive' if peer
                     else f'no peer probed the old identity in {pause} s')
        elif pause:
            # The manager a worker joined through keeps the whole wait: a listener on its gossip
            # port would answer that worker's check below in place of dockerd.
            self.say(f"dockerd's last run did not leave the gossip cleanly; waiting {pause} s for the swarm "
                     'to forget its identity')
            self.sleep(pause)
        if manager and not self.wait_for(MANAGER_WAIT, lambda: self.connects(manager, GOSSIP_PORT)):
            self.say(f'the manager {manager} does not answer on {GOSSIP_PORT}/tcp after {MANAGER_WAIT} s; '
                     'starting dockerd (it joins the gossip a minute later)')
        self.files.write(RUNNING_FILE, STARTED_MARK)

    def after_stop(self, result):
        """docker.service's ExecStopPost, with systemd's SERVICE_RESULT: only a clean stop clears the
        mark, and not the one of a dockerd that lost its gossip identity."""
        if result == 'success' and self.files.read(RUNNING_FILE) != LOST_MARK:
            self.files.remove(RUNNING_FILE)

    def start(self, names):
        for name in names:
            if self.ok(['docker', 'start', name]):
                self.changed = True
                self.say(f'started {name}')

    def pending(self):
        return [s.name for s in self.plan(dockerd=False, store=False).start]

    # ---- modes
    def check(self):
        """The plan, changing nothing."""
        self.wait_dockerd()
        return self.plan()

    def recover(self, boot=False):
        """Repair the node (--boot: a needed dockerd restart is queued and
        the run ends). Returns the action lines; raises RecoverFailed."""
        self.wait_dockerd()
        if self.daemon_json()[0] == CLUSTER_STORE:
            # Without etcd quorum nothing stale can leave the store.
            self.etcd_ok = self.wait_for(ETCD_WAIT, self.etcd_healthy)
            if not self.etcd_ok:
                self.say(f'etcd is not healthy after {ETCD_WAIT} s; going on')
        p = self.plan()
        self.clear(p)
        if p.restart_dockerd:
            if self.restart_dockerd(p, boot):
                return self.actions
        else:
            self.files.remove(RESTARTS_FILE)  # a clean start: the limit counts restarts in a row
        # Swarm: containers can attach only once the node is back in the swarm.
        if not self.wait_for(SWARM_WAIT, lambda: swarm_settled(self.swarm_state())):
            self.fail(f'node not active in the swarm after {SWARM_WAIT} s')
        return self.start_rounds(self.pending(), boot)

    def start_rounds(self, names, boot):
        rounds = 0
        while names:
            self.start(names)
            rounds += 1
            p = self.plan()
            self.clear(p)  # a refused start can leave its endpoint's record behind
            names = [s.name for s in p.start]
            if names and p.restart_dockerd:
                if self.restart_dockerd(p, boot):
                    return self.actions
                names = self.pending()
            if names and rounds >= START_ROUNDS:
                self.fail('could not start: ' + ' '.join(names))
            if names:
                self.sleep(ROUND_PAUSE)
        return self.actions
