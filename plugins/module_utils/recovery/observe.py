# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a node: the command runner, the file system, the gossip port, and Observer, which
reads an Observation with the node's commands."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

from ansible_collections.lab.multihost.plugins.module_utils.recovery.model import (
    CLUSTER_STORE,
    CONNECT_TIMEOUT,
    DAEMON_JSON,
    DOCKER_NETNS,
    DOCKERD_WAIT,
    ENDPOINT_KEYS,
    FIRST_BYTES_WAIT,
    GOSSIP_PORT,
    INSPECT_FORMAT,
    POLL,
    RESTARTS_FILE,
    SAMPLE_GAP,
    SAY,
    Observation,
    ThreadSample,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.parse import (
    parse_containers,
    parse_daemon_json,
    parse_endpoint_record,
    parse_etcd_keys,
    parse_journal,
    parse_ns_link,
    parse_restarts,
    parse_store_endpoints,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.plan import (
    journal_reason,
    plan,
    refusals,
    stray_threads,
)


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


class Observer:
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
