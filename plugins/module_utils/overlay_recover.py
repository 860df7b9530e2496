# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""overlay-recover's engine: after an unclean stop, bring a node's containers
back onto its overlays (docs/recovery.md says why and when).

Three parts:

- parsing: pure functions over what the node's tools print (dockerd's
  journal, ``/proc/<pid>/task/*/ns/net`` links, ``docker inspect`` lines and
  State.Error strings, etcd v2 endpoint records, daemon.json);
- planning: ``plan(Observation) -> Plan``, pure: restart dockerd or not and
  why, the containers to start and why, the stale endpoints to clear and
  those left alone;
- acting: ``NodeRunner`` reads an Observation with the node's commands and
  carries plans out (``check``, ``recover``), through a ``run(argv) -> (rc,
  out, err)`` callable and a small file-system object, both replaceable.

The lab.multihost.overlay_recover module drives it; on a node it also runs
alone (``python3 overlay_recover.py --boot|--repair|--check``), and as
docker.service's start and stop hooks (``--before-start``, ``--after-stop``). Python 3.9+
stdlib only: it imports nothing from Ansible.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
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


# ------------------------------------------------------------------ data

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

    def to_json(self):
        """The --check answer (restart_dockerd and start as the sh script printed them)."""
        return {
            'restart_dockerd': self.restart_dockerd,
            'start': [s.name for s in self.start],
            'reason': self.reason,
            'error': self.error,
            'backend': self.backend,
            'start_reasons': {s.name: s.reason for s in self.start},
            'clear': [{'name': s.name, 'network': s.network} for s in self.clear],
            'left_alone': [{'name': s.name, 'network': s.network, 'reason': s.reason} for s in self.left_alone],
        }


# ------------------------------------------------------------------ parsing

def parse_daemon_json(text):
    """(backend, advertise address) of /etc/docker/daemon.json's text (None: no file)."""
    text = text or ''
    backend = CLUSTER_STORE if '"cluster-store"' in text else SWARM
    advertise = ''
    for line in text.splitlines():
        found = ADVERTISE.findall(line)
        if found:
            advertise = found[-1]
            break
    return backend, advertise


def parse_store_endpoints(text):
    """The etcd client URLs of the cluster store dockerd uses, from daemon.json's text ([] without
    one): not always this node's own member (a node outside group etcd, or leaving it)."""
    text = text or ''
    found = STORE.search(text)
    if not found:
        return []
    scheme = 'https' if '"kv.certfile"' in text else 'http'
    return [f'{scheme}://{hostport}' for hostport in found.group(1).split(',') if hostport]


def parse_journal(text):
    """The lines of ``journalctl -q -o cat _SYSTEMD_INVOCATION_ID=<id>``."""
    return (text or '').splitlines()


def parse_ns_link(value):
    """Inode of a ``/proc/.../ns/net`` link value (``net:[4026531992]``), or None."""
    digits = re.sub(r'[^0-9]', '', value or '')
    return int(digits) if digits else None


def parse_proc_listing(text):
    """A ThreadSample from a listing of lines ``<path> <value>``:

    - ``/proc/1/ns/net net:[N]``: the node's namespace (live);
    - ``/proc/<pid>/task/<tid>/ns/net net:[N]``: a dockerd thread;
    - ``/run/docker/netns/<name> <inode>``: a namespace Docker keeps (live).

    ``ls -l`` lines (``... -> net:[N]``) do as well. Captured on a node with::

        pid=$(systemctl show -p MainPID --value docker.service)
        for f in /proc/1/ns/net /proc/$pid/task/*/ns/net; do echo "$f $(readlink $f)"; done
        stat -L -c '%n %i' /run/docker/netns/*
    """
    threads, live = [], set()
    for line in (text or '').splitlines():
        link = NS_LINK.search(line)
        task = PROC_TASK.search(line)
        netns = NETNS_FILE.match(line.strip())
        if task and link:
            threads.append((int(task.group(1)), int(link.group(1))))
        elif PROC_ONE.search(line) and link:
            live.add(int(link.group(1)))
        elif netns:
            live.add(int(netns.group(2)))
    return ThreadSample(tuple(threads), frozenset(live))


def parse_container(line):
    """A Container from one line of ``docker inspect -f INSPECT_FORMAT``, or None."""
    parts = line.rstrip('\n').split(' ', 3)
    if len(parts) < 3 or not parts[0]:
        return None
    name, policy, status = parts[0].lstrip('/'), parts[1], parts[2]
    return Container(name, policy, status, parts[3] if len(parts) > 3 else '')


def parse_containers(text):
    return [c for c in map(parse_container, (text or '').splitlines()) if c]


def parse_refusals(error):
    """[(endpoint name, network)] of a State.Error like ``endpoint with name
    redis already exists in network demo`` (the last such phrase of a line)."""
    out = []
    for line in (error or '').splitlines():
        m = REFUSAL.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def parse_endpoint_record(text):
    """An Endpoint of one record as ``ETCDCTL_API=2 etcdctl get KEY`` prints
    it (libnetwork's endpoint JSON), or None when it is not one."""
    try:
        record = json.loads(text or '')
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get('name'), str):
        return None
    locator = record.get('locator')
    return Endpoint(record['name'], locator if isinstance(locator, str) else None)


def parse_etcd_keys(text):
    """The keys ``ETCDCTL_API=2 etcdctl ls DIR`` prints, one a line."""
    return [line.strip() for line in (text or '').splitlines() if line.strip().startswith('/')]


def parse_restarts(text):
    text = (text or '').strip()
    return int(text) if text.isdigit() else 0


def swarm_settled(state):
    return (state or '').strip() in ('active', 'inactive')


# ------------------------------------------------------------------ planning

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


def gossip_connections(limit, port=GOSSIP_PORT, sleep=time.sleep, clock=time.monotonic):
    """(address, first bytes) of each connection to the gossip port in the next `limit` s, closed
    unanswered (dockerd is not running yet). Where the port cannot be bound nothing is seen, and
    the wait is the whole limit."""
    deadline = clock() + limit
    try:
        server = socket.create_server(('', port))
    except OSError:
        sleep(limit)
        return
    with server:
        while clock() < deadline:
            server.settimeout(max(deadline - clock(), 0.01))
            try:
                conn, peer = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(FIRST_BYTES_WAIT)
                try:
                    first = conn.recv(4096)
                except OSError:
                    first = b''
            yield peer[0], first


def tcp_connects(address, port):
    try:
        socket.create_connection((address, port), CONNECT_TIMEOUT).close()
    except OSError:
        return False
    return True


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


# ------------------------------------------------------------------ acting

class RecoverFailed(Exception):
    """The run stops: ``line`` is the message (with SAY), ``actions`` what was done before."""

    def __init__(self, message, actions):
        super().__init__(message)
        self.message = message
        self.line = SAY + message
        self.actions = list(actions)


def local_run(argv):
    """(rc, stdout, stderr) of argv; rc 127 when the command is missing."""
    try:
        proc = subprocess.run(argv, capture_output=True, encoding='utf-8', errors='replace',
                              env=dict(os.environ, LC_ALL='C'), check=False)
    except OSError as exc:
        return 127, '', str(exc)
    return proc.returncode, proc.stdout, proc.stderr


class LocalFiles:
    """The few file-system reads and writes the runner needs; tests use a fake."""

    def read(self, path):
        try:
            with open(path, encoding='utf-8', errors='replace') as f:
                return f.read()
        except OSError:
            return None

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)

    def remove(self, path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

    def readlink(self, path):
        try:
            return os.readlink(path)
        except OSError:
            return None

    def listdir(self, path):
        try:
            return sorted(n for n in os.listdir(path) if not n.startswith('.'))
        except OSError:
            return []

    def inode(self, path):
        try:
            return os.stat(path).st_ino
        except OSError:
            return None


def find_etcdctl():
    """The etcd role's wrapper (it carries the lab's TLS client certificate), else etcdctl."""
    return shutil.which('lab-etcdctl') or 'etcdctl'


class NodeRunner:
    """Reads a node into an Observation and carries plans out.

    run: callable(argv) -> (rc, stdout, stderr); files: a LocalFiles;
    sleep: callable(seconds); echo: callable(line), called with every action
    line as it is said; etcdctl: argv[0] for etcd (default find_etcdctl()).
    ``actions`` holds every line said; ``changed`` whether it acted;
    ``plans`` every plan it made, in order.
    """

    def __init__(self, run, files=None, sleep=time.sleep, echo=None, etcdctl=None, connects=tcp_connects,
                 listen=gossip_connections):
        self.run = run
        self.connects = connects
        self.listen = listen
        self.files = files or LocalFiles()
        self.sleep = sleep
        self.echo = echo
        self.etcdctl = etcdctl or find_etcdctl()
        self.actions = []
        self.changed = False
        self.plans = []
        self.etcd_ok = None

    # ---- talking and waiting
    def say(self, message):
        line = SAY + message
        self.actions.append(line)
        if self.echo:
            self.echo(line)

    def fail(self, message):
        raise RecoverFailed(message, self.actions)

    def ok(self, argv):
        return self.run(argv)[0] == 0

    def output(self, argv):
        rc, out, _err = self.run(argv)
        return out if rc == 0 else ''

    def wait_for(self, limit, check):
        """Poll check() every POLL s until it is true; False after ``limit`` s."""
        waited = 0
        while not check():
            if waited >= limit:
                return False
            self.sleep(POLL)
            waited += POLL
        return True

    def dockerd_answers(self):
        return self.ok(['docker', 'info'])

    def store_endpoints(self):
        return parse_store_endpoints(self.files.read(DAEMON_JSON))

    def etcdctl_argv(self, api, endpoints):
        """etcdctl asking the given members (default: the wrapper's, this node's own)."""
        argv = ['env', f'ETCDCTL_API={api}', self.etcdctl]
        if endpoints:
            argv.append('--endpoints=' + ','.join(endpoints))
        return argv

    def etcd_healthy(self):
        """Whether one member of the store dockerd uses answers healthy."""
        health = ['--dial-timeout=2s', '--command-timeout=3s', 'endpoint', 'health']
        return any(self.ok(self.etcdctl_argv(3, [e] if e else []) + health)
                   for e in self.store_endpoints() or [None])

    def swarm_state(self):
        return self.output(['docker', 'info', '-f', '{{.Swarm.LocalNodeState}}']).strip()

    def wait_dockerd(self, message='dockerd does not answer'):
        if not self.wait_for(DOCKERD_WAIT, self.dockerd_answers):
            self.fail(message)

    # ---- reading
    def daemon_json(self):
        return parse_daemon_json(self.files.read(DAEMON_JSON))

    def containers(self):
        ids = self.output(['docker', 'ps', '-aq', '--filter', 'status=exited', '--filter', 'status=created']).split()
        if not ids:
            return []
        # rc ignored: a container removed meanwhile fails alone
        return parse_containers(self.run(['docker', 'inspect', '-f', INSPECT_FORMAT] + ids)[1])

    def journal(self):
        invocation = self.output(['systemctl', 'show', '-p', 'InvocationID', '--value', 'docker.service']).strip()
        if not invocation:
            return None
        return parse_journal(self.run(['journalctl', '-q', '-o', 'cat',
                                       f'_SYSTEMD_INVOCATION_ID={invocation}'])[1])

    def sample(self, pid):
        """A ThreadSample of dockerd (pid) as /proc shows it now."""
        live = {parse_ns_link(self.files.readlink('/proc/1/ns/net'))}
        live |= {self.files.inode(f'{DOCKER_NETNS}/{n}') for n in self.files.listdir(DOCKER_NETNS)}
        threads = []
        for tid in self.files.listdir(f'/proc/{pid}/task'):
            ns = parse_ns_link(self.files.readlink(f'/proc/{pid}/task/{tid}/ns/net'))
            if ns is not None and tid.isdigit():
                threads.append((int(tid), ns))
        return ThreadSample(tuple(threads), frozenset(live - {None}))

    def samples(self):
        """One sample, and a second SAMPLE_GAP later when the first shows a stray thread."""
        pid = self.output(['systemctl', 'show', '-p', 'MainPID', '--value', 'docker.service']).strip()
        if not pid.isdigit() or int(pid) <= 0:
            return ()
        first = self.sample(pid)
        if not stray_threads(first):
            return (first,)
        self.sleep(SAMPLE_GAP)
        return (first, self.sample(pid))

    def store_records(self, network):
        """The store's endpoint records of a network (by name)."""
        nid = self.output(['docker', 'network', 'inspect', '-f', '{{.Id}}', network]).strip()
        if not nid:
            return []
        etcdctl = self.etcdctl_argv(2, self.store_endpoints())
        keys = parse_etcd_keys(self.run(etcdctl + ['ls', ENDPOINT_KEYS + nid])[1])
        records = (parse_endpoint_record(self.run(etcdctl + ['get', key])[1]) for key in keys)
        return [r for r in records if r]

    def observe(self, dockerd=True, store=True):
        """An Observation. dockerd=False skips dockerd's log, threads and
        swarm state (the plan then has no reason to restart it), store=False
        the store's records. etcd_healthy is what recover's wait found."""
        backend, advertise = self.daemon_json()
        obs = Observation(backend=backend, advertise=advertise, journal=None, etcd_healthy=self.etcd_ok,
                          restarts=parse_restarts(self.files.read(RESTARTS_FILE)))
        obs.containers = self.containers()
        if dockerd:
            obs.journal = self.journal()
            if backend == CLUSTER_STORE and obs.journal is not None and not journal_reason(obs.journal, backend):
                obs.samples = self.samples()
            obs.swarm_state = self.swarm_state()
        if store and backend == CLUSTER_STORE:
            networks = dict.fromkeys(network for _name, network in refusals(obs.containers))
            obs.endpoints = {n: self.store_records(n) for n in networks}
        return obs

    def plan(self, **kw):
        p = plan(self.observe(**kw))
        self.plans.append(p)
        return p

    # ---- acting
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


# ------------------------------------------------------------------ script

USAGE = 'usage: overlay_recover.py [--boot|--repair|--check|--before-start|--after-stop]'
MODES = ('--boot', '--repair', '--check', '--before-start', '--after-stop')


def main(argv=None, run=local_run, files=None, sleep=time.sleep, out=None, err=None, connects=tcp_connects,
         listen=gossip_connections):
    """Run one mode on this node; returns the exit code (0 done, 1 failed, 2 usage).

    --boot (default) as overlay-recover.service: a needed dockerd restart is
    queued; --repair: restart dockerd and wait for it; --check: print the
    plan as JSON and change nothing; --before-start and --after-stop: docker.service's
    ExecStartPre and ExecStopPost (the latter reads SERVICE_RESULT)."""
    args = sys.argv[1:] if argv is None else list(argv)
    out, err = out or sys.stdout, err or sys.stderr
    mode = args[0] if args else '--boot'
    if len(args) > 1 or mode not in MODES:
        _write(err, USAGE)
        return 2
    runner = NodeRunner(run, files=files, sleep=sleep, echo=lambda line: _write(out, line), connects=connects,
                        listen=listen)
    try:
        if mode == '--check':
            _write(out, json.dumps(runner.check().to_json()))
        elif mode == '--before-start':
            runner.before_start()
        elif mode == '--after-stop':
            runner.after_stop(os.environ.get('SERVICE_RESULT', ''))
        else:
            runner.recover(boot=mode == '--boot')
    except RecoverFailed as exc:
        _write(err, exc.line)
        return 1
    return 0


def _write(stream, line):
    stream.write(line + '\n')
    stream.flush()


if __name__ == '__main__':
    raise SystemExit(main())
