# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plan(Observation) -> Plan, pure: restart dockerd or not and why, the containers to start and
why, the stale endpoints to clear and those left alone."""

from __future__ import annotations

import json

from ansible_collections.lab.multihost.plugins.module_utils.recovery.model import (
    CLUSTER_STORE,
    CLUSTER_STORE_SIGNS,
    GOSSIP_FORGET,
    IN_USE_HERE,
    MAX_RESTARTS,
    NOT_THIS_NODES,
    PENDING_STATUSES,
    PING_MAX,
    RESTART_POLICIES,
    START_ERRORS,
    STRAY_THREAD,
    SWARM,
    SWARM_SIGNS,
    Plan,
    Stale,
    Start,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.parse import (
    parse_refusals,
)


def journal_reason(lines, backend):
    """Why dockerd's log says it needs a restart, or ''. On swarm only the
    lost gossip identity counts; on cluster-store only the restore signs."""
    for sign, reason in (CLUSTER_STORE_SIGNS if backend == CLUSTER_STORE else SWARM_SIGNS):
        if any(sign.search(line) for line in lines):
            return reason
    return ''


def stray_threads(sample):
    """The (tid, ns) of a sample whose namespace is not a live one."""
    return {(tid, ns) for tid, ns in sample.threads if ns not in sample.live}


def stray(samples):
    """A stray thread seen in both samples (same thread, same namespace)."""
    if len(samples) < 2:
        return False
    return bool(stray_threads(samples[0]) & stray_threads(samples[1]))


def dockerd_reason(obs):
    """Why dockerd's current run needs a restart, or ''."""
    if obs.journal is None:
        return ''
    reason = journal_reason(obs.journal, obs.backend)
    if reason or obs.backend != CLUSTER_STORE:
        return reason
    return STRAY_THREAD if stray(obs.samples) else ''


def start_reason(container):
    """The START_ERRORS entry a container that should run exited with, or ''."""
    if container.policy not in RESTART_POLICIES or container.status not in PENDING_STATUSES:
        return ''
    for sign in START_ERRORS:
        if sign in container.error:
            return sign
    return ''


def refusals(containers):
    """[(endpoint, network)] the pending containers were refused for, once each."""
    out = []
    for c in containers:
        if start_reason(c):
            out.extend(r for r in parse_refusals(c.error) if r not in out)
    return out


def recorded_here(records, name, address):
    return any(r.name == name and r.locator == address for r in records)


def stale_endpoints(obs):
    """([Stale] to clear, [Stale] left alone): an endpoint is cleared only when
    the store records it for this node and its container here is not running."""
    stopped = {c.name for c in obs.containers if c.status in PENDING_STATUSES}
    clear, alone = [], []
    for name, network in refusals(obs.containers):
        if not recorded_here(obs.endpoints.get(network, ()), name, obs.advertise):
            alone.append(Stale(name, network, NOT_THIS_NODES))
        elif name not in stopped:
            alone.append(Stale(name, network, IN_USE_HERE))
        else:
            clear.append(Stale(name, network, f'recorded for this node ({obs.advertise}), its container stopped'))
    return clear, alone


def start_pause(backend, running):
    """The most seconds dockerd waits before it starts: GOSSIP_FORGET on swarm when its last run
    did not stop cleanly (RUNNING_FILE's text, None when absent). A node that joins while a peer
    still takes its old gossip identity for alive loses the new one (docs/recovery.md, symptom 5)."""
    return GOSSIP_FORGET if backend == SWARM and running is not None else 0


def gossip_kind(first):
    """What a connection to the gossip port is, from its first bytes: 'ping' (memberlist's TCP
    fallback ping: a probe whose UDP ping went unanswered) or 'push-pull' (a state exchange)."""
    return 'ping' if len(first) <= PING_MAX else 'push-pull'


def forgetting_peer(connections):
    """The first peer that shows it no longer takes this node's old gossip identity for alive,
    from the connections to the gossip port while dockerd is down ((address, first bytes), as
    they come), or None. It shows it with a second connection of one kind:
    - two fallback pings: memberlist probes one node at a time and marks it suspect when a probe
      fails, so a second probe means the first failed. A node that joins then never learns the
      suspect identity (memberlist ignores a suspect it has never seen);
    - two push-pulls: networkdb reconnects to a failed node each second (memberlist's own
      push-pull comes every 30 s)."""
    seen = set()
    for address, first in connections:
        if not first:
            continue
        key = (address, gossip_kind(first))
        if key in seen:
            return address
        seen.add(key)
    return None


def joined_through(text):
    """The address of the manager this node joined the swarm through (docker-state.json's
    RemoteAddr without its port), or None: no swarm, or the node that created it."""
    try:
        remote = json.loads(text or '{}').get('RemoteAddr') or ''
    except ValueError:
        return None
    return remote.rsplit(':', 1)[0].strip('[]') or None


def restart_error(reason, restarts):
    if reason and restarts >= MAX_RESTARTS:
        return f'still {reason} after {restarts} dockerd restarts; see journalctl -u docker'
    return ''


def plan(obs):
    """The Plan for an Observation."""
    reason = dockerd_reason(obs)
    p = Plan(backend=obs.backend, reason=reason, restarts=obs.restarts,
             error=restart_error(reason, obs.restarts))
    p.start = [Start(c.name, start_reason(c)) for c in obs.containers if start_reason(c)]
    if obs.backend == CLUSTER_STORE:
        p.clear, p.left_alone = stale_endpoints(obs)
    return p


def left_alone_line(stale):
    return f'endpoint {stale.name} in {stale.network} is {stale.reason}; left alone'


def plan_diff(p):
    """{'before', 'after'}: one line for dockerd, one per container to start
    and per endpoint to clear."""
    before, after = ['dockerd: running'], ['dockerd: running']
    if p.restart_dockerd:
        before = [f'dockerd: running, needs a restart ({p.reason})']
        after = [f'dockerd: restart refused ({p.error})' if p.error else 'dockerd: restarted']
    for s in p.clear:
        before.append(f'endpoint {s.name} in {s.network}: stale record of this node')
        after.append(f'endpoint {s.name} in {s.network}: removed')
    for s in p.start:
        before.append(f'container {s.name}: stopped ({s.reason})')
        after.append(f'container {s.name}: started')
    return {'before': '\n'.join(before) + '\n', 'after': '\n'.join(after) + '\n'}
