# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The recovery engine's limits, paths and log signatures, and the data it observes and plans with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CLUSTER_STORE, SWARM = 'cluster-store', 'swarm'

# Limits (seconds unless said otherwise).
DOCKERD_WAIT = 120      # until `docker info` answers
ETCD_WAIT = 120         # until etcd is healthy (cluster-store)
SWARM_WAIT = 600        # until the node is active (or inactive) in the swarm
POLL = 2                # every wait polls this often
SAMPLE_GAP = 1          # between the two samples of dockerd's threads
MAX_RESTARTS = 2        # dockerd restarts in a row; a clean start resets the count
START_ROUNDS = 30       # rounds of `docker start`
ROUND_PAUSE = 5         # between rounds
# After a run that did not stop cleanly, a swarm node's dockerd starts once a peer no longer
# takes its old gossip identity for alive (at most this long; failed takes about 6 s).
GOSSIP_FORGET = 10
# memberlist's TCP fallback ping is one small message (130 B encrypted); a push-pull carries
# every node's state (300 B and more).
PING_MAX = 200
FIRST_BYTES_WAIT = 0.5   # a peer writes its message as soon as it connects
# A swarm worker's dockerd waits at most this long for its manager's gossip port: a join
# refused at start is retried only a minute later, and its names stay unknown to the manager.
MANAGER_WAIT = 30
GOSSIP_PORT = 7946
CONNECT_TIMEOUT = 1

STATE_DIR = '/run/overlay-recover'
RESTARTS_FILE = STATE_DIR + '/dockerd-restarts'
RUNNING_FILE = '/var/lib/overlay-recover/dockerd-running'   # kept over a power loss; a clean stop removes it
STARTED_MARK = 'dockerd started\n'
LOST_MARK = 'dockerd lost its gossip identity\n'   # even a clean stop keeps this one
DAEMON_JSON = '/etc/docker/daemon.json'
SWARM_STATE = '/var/lib/docker/swarm/docker-state.json'   # what dockerd keeps of its swarm between runs
DOCKER_NETNS = '/run/docker/netns'
ENDPOINT_KEYS = '/docker/network/v1.0/endpoint/'
ASIDE = '.overlay-recover'   # suffix of a container renamed aside
SAY = 'overlay-recover: '

# Why dockerd's current run needs a restart.
RESTORE_FAILED = 'dockerd could not restore overlay endpoints after an unclean stop'
RESTORED_WITHOUT_ADDRESS = 'dockerd restored an overlay endpoint before it knew its own address'
PEER_WITHOUT_ADDRESS = 'dockerd learned an overlay peer without its node address'
STRAY_THREAD = 'a dockerd thread is still in the namespace of a removed overlay'
LOST_IDENTITY = 'dockerd lost its gossip identity after an unclean stop'

# Log signatures in the order they are looked for: the first found anywhere wins.
CLUSTER_STORE_SIGNS = (
    (re.compile(r'Failure during overlay endpoints restore'), RESTORE_FAILED),
    (re.compile(r' <nil> [0-9]+ [0-9]+ true\}'), RESTORED_WITHOUT_ADDRESS),
    (re.compile(r'isLocal:false vtep:<nil>'), PEER_WITHOUT_ADDRESS),
)
SWARM_SIGNS = ((re.compile(r'is unknown to memberlist'), LOST_IDENTITY),)

# A container is started again when it should run and exited with one of these.
START_ERRORS = ('failed to update store', 'network sandbox join failed', 'Could not attach to network',
                'attaching to network failed', 'failed get network namespace', 'already exists in network')
RESTART_POLICIES = ('always', 'unless-stopped')
PENDING_STATUSES = ('exited', 'created')

REFUSAL = re.compile(r'.*endpoint with name ([^ ]*) already exists in network ([^ ]*)')
ADVERTISE = re.compile(r'"cluster-advertise": *"([^:"]*)')
STORE = re.compile(r'"cluster-store": *"etcd://([^"]*)"')
PROC_TASK = re.compile(r'/proc/\d+/task/(\d+)/ns/net\b')
PROC_ONE = re.compile(r'/proc/1/ns/net\b')
NETNS_FILE = re.compile(r'^(\S*/docker/netns/\S+)\s+(\d+)\s*$')
NS_LINK = re.compile(r'net:\[(\d+)\]')

NOT_THIS_NODES = "not this node's"
IN_USE_HERE = 'in use by a container running here'

INSPECT_FORMAT = '{{.Name}} {{.HostConfig.RestartPolicy.Name}} {{.State.Status}} {{.State.Error}}'


@dataclass(frozen=True)
class Container:
    """One container: ``docker inspect``'s .Name (without "/"),
    .HostConfig.RestartPolicy.Name, .State.Status and .State.Error."""
    name: str
    policy: str = ''
    status: str = 'exited'
    error: str = ''


@dataclass(frozen=True)
class Endpoint:
    """One endpoint record of the cluster store: its name and locator (the
    address of the node it is on; None when the record has none)."""
    name: str
    locator: str | None = None


@dataclass(frozen=True)
class ThreadSample:
    """One look at dockerd's threads: (tid, network namespace inode) pairs,
    and the live namespaces read with them (PID 1's and every
    /run/docker/netns/* one)."""
    threads: tuple = ()
    live: frozenset = frozenset()


@dataclass
class Observation:
    """What the plan is made from.

    backend: CLUSTER_STORE when daemon.json has "cluster-store", else SWARM.
    journal: the lines of dockerd's current systemd invocation; None when
        docker.service has no invocation (then nothing says to restart it).
    samples: up to two ThreadSamples, SAMPLE_GAP apart (the second is taken
        only when the first shows a stray thread).
    containers: the exited and created containers (Container).
    advertise: this node's address, the host part of daemon.json's
        cluster-advertise.
    endpoints: {network name: [Endpoint]}, the store's endpoint records of
        every network a pending container was refused on ("endpoint with
        name X already exists in network N"); a missing network has none.
    etcd_healthy: whether etcd answered before the store was read; None when
        not asked (swarm, --check).
    swarm_state: ``docker info``'s .Swarm.LocalNodeState.
    restarts: dockerd restarts in a row so far (RESTARTS_FILE).
    """
    backend: str = CLUSTER_STORE
    journal: list | None = field(default_factory=list)
    samples: tuple = ()
    containers: list = field(default_factory=list)
    advertise: str = ''
    endpoints: dict = field(default_factory=dict)
    etcd_healthy: bool | None = None
    swarm_state: str = ''
    restarts: int = 0


@dataclass(frozen=True)
class Start:
    """A container to start and the error it exited with (a START_ERRORS entry)."""
    name: str
    reason: str


@dataclass(frozen=True)
class Stale:
    """An endpoint X in network N that refused a start, and why it is cleared or left alone."""
    name: str
    network: str
    reason: str


@dataclass
class Plan:
    """What to do on this node.

    reason: why dockerd needs a restart; '' when it does not.
    restart_dockerd: bool(reason).
    error: set when the restart is due but MAX_RESTARTS were made in a row:
        it is refused and the run fails.
    restarts: dockerd restarts in a row so far.
    start: [Start], in ``docker ps`` order.
    clear: [Stale], the endpoints to remove (cluster-store only).
    left_alone: [Stale], refused-start endpoints not removed, with why.
    """
    backend: str = CLUSTER_STORE
    reason: str = ''
    error: str = ''
    restarts: int = 0
    start: list = field(default_factory=list)
    clear: list = field(default_factory=list)
    left_alone: list = field(default_factory=list)

    @property
    def restart_dockerd(self):
        return bool(self.reason)

    @property
    def acts(self):
        """Whether carrying it out changes something."""
        return bool((self.restart_dockerd and not self.error) or self.start or self.clear)

    @property
    def repairs(self):
        """Whether a repair run has something to do, or a refused restart to report (error)."""
        return bool(self.restart_dockerd or self.start or self.clear)

    @property
    def settled(self):
        """dockerd needs no restart and no container waits to be started: what a wait for the
        node's own recovery unit (after a restore) waits for. Stale endpoints may remain."""
        return not (self.restart_dockerd or self.start)

    def to_json(self):
        """The --check answer (restart_dockerd and start as the sh script printed them)."""
        return {
            'repairs': self.repairs,
            'settled': self.settled,
            'restart_dockerd': self.restart_dockerd,
            'start': [s.name for s in self.start],
            'reason': self.reason,
            'error': self.error,
            'backend': self.backend,
            'start_reasons': {s.name: s.reason for s in self.start},
            'clear': [{'name': s.name, 'network': s.network} for s in self.clear],
            'left_alone': [{'name': s.name, 'network': s.network, 'reason': s.reason} for s in self.left_alone],
        }
