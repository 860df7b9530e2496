"""Unit tests of overlay_recover, the engine of overlay-recover and of the
lab.multihost.overlay_recover module: parsing and planning on fixtures
(fixtures/overlay_recover, one tool output a file; its README says how to
capture more), and the side-effect layer against a fake node that answers
from its state and records every command."""

from __future__ import annotations

import io
import json
import pathlib
import re
import socket
import threading
from dataclasses import dataclass

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.recovery.act import (
    NodeRunner,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.cli import (
    main,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.model import (
    CLUSTER_STORE,
    DAEMON_JSON,
    ENDPOINT_KEYS,
    GOSSIP_FORGET,
    IN_USE_HERE,
    LOST_IDENTITY,
    LOST_MARK,
    MANAGER_WAIT,
    NOT_THIS_NODES,
    PEER_WITHOUT_ADDRESS,
    RESTARTS_FILE,
    RESTORE_FAILED,
    RESTORED_WITHOUT_ADDRESS,
    RUNNING_FILE,
    SAMPLE_GAP,
    STARTED_MARK,
    STRAY_THREAD,
    SWARM,
    SWARM_STATE,
    Container,
    Endpoint,
    Observation,
    Plan,
    Stale,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.observe import (
    RecoverFailed,
    gossip_connections,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.parse import (
    parse_containers,
    parse_daemon_json,
    parse_endpoint_record,
    parse_etcd_keys,
    parse_journal,
    parse_ns_link,
    parse_proc_listing,
    parse_refusals,
    parse_store_endpoints,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.plan import (
    forgetting_peer,
    gossip_kind,
    joined_through,
    journal_reason,
    plan,
    plan_diff,
    start_pause,
    start_reason,
    stray_threads,
)

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'overlay_recover'
NODE1, NODE2 = '192.168.205.10', '192.168.205.11'
DEMO_ID = '2173fe2ce21d14af2971a4a874555ebd17a44e5fcf8c24fe6058e83591d55762'
CLEAN20 = 'journal_docker20_clean_start.log'
CLEAN26 = 'journal_docker26_clean_start.log'
NO_STRAY = ('proc_docker20_no_stray_thread.txt',)
STRAY = ('proc_docker20_stray_thread_first.txt', 'proc_docker20_stray_thread_second.txt')


def fx(name):
    return (FIXTURES / name).read_text()


def error(name):
    """A State.Error fixture as docker inspect -f '{{.State.Error}}' prints it, without the newline."""
    return fx(name).rstrip('\n')


# ------------------------------------------------------------------ parsing

def test_daemon_json_decides_the_backend_and_the_address():
    assert parse_daemon_json(fx('daemon_json_cluster_store_node2.json')) == (CLUSTER_STORE, NODE2)
    assert parse_daemon_json(fx('daemon_json_swarm.json')) == (SWARM, '')
    assert parse_daemon_json(None) == (SWARM, '')
    assert parse_daemon_json('{"cluster-store": "etcd://x:2379", "cluster-advertise": "eth0:2375"}')[1] == 'eth0'


def test_ns_link_values():
    assert parse_ns_link('net:[4026531992]') == 4026531992
    assert parse_ns_link('') is None and parse_ns_link(None) is None


def test_proc_listing_reads_threads_and_live_namespaces():
    sample = parse_proc_listing(fx('proc_docker20_no_stray_thread.txt'))
    assert sample.live == {4026531992, 4026532291, 4026532364}
    assert (820, 4026532291) in sample.threads and len(sample.threads) == 7
    assert stray_threads(sample) == set(), 'a thread in a live overlay namespace is not stray'
    assert stray_threads(parse_proc_listing(fx(STRAY[0]))) == {(1377, 4026532455)}


def test_proc_listing_captured_on_a_node_after_a_clean_start():
    """docker-node2 of the lab: every dockerd thread in the node's namespace or a live overlay's."""
    sample = parse_proc_listing(fx('proc_docker20_no_stray_thread_captured_node2.txt'))
    assert len(sample.threads) > 5 and sample.live
    assert stray_threads(sample) == set()


def test_proc_listing_takes_ls_lines():
    ls = 'lrwxrwxrwx 1 root root 0 Nov 28 10:12 '
    sample = parse_proc_listing(f"{ls}/proc/1/ns/net -> net:[4026531992]\n"
                                f"{ls}/proc/812/task/1377/ns/net -> 'net:[4026532455]'\n")
    assert sample.threads == ((1377, 4026532455),) and sample.live == {4026531992}


@pytest.mark.parametrize('fixture,expected', [
    ('etcd_endpoint_redis_on_node2.json', Endpoint('redis', NODE2)),
    ('etcd_endpoint_redis_on_node1.json', Endpoint('redis', NODE1)),
    ('etcd_endpoint_app_on_node1.json', Endpoint('app', NODE1)),
])
def test_endpoint_records(fixture, expected):
    assert parse_endpoint_record(fx(fixture)) == expected


def test_endpoint_record_errors_and_missing_locator():
    assert parse_endpoint_record('Error:  100: Key not found (/docker/network/v1.0/endpoint/x) [812]') is None
    assert parse_endpoint_record('') is None and parse_endpoint_record('[1]') is None
    assert parse_endpoint_record('{"name":"redis"}') == Endpoint('redis', None)


def test_etcd_keys():
    keys = parse_etcd_keys(fx('etcd_ls_demo_endpoints.txt'))
    assert len(keys) == 2 and all(k.startswith(ENDPOINT_KEYS + DEMO_ID + '/') for k in keys)


def test_refusals_name_the_endpoint_and_network():
    assert parse_refusals(error('error_docker20_endpoint_redis_already_exists.txt')) == [('redis', 'demo')]
    assert parse_refusals(error('error_docker20_network_sandbox_join_failed.txt')) == []


def test_inspect_lines():
    text = ('/redis always exited endpoint with name redis already exists in network demo\n'
            '/app unless-stopped created \n/web no exited\n')
    assert parse_containers(text) == [
        Container('redis', 'always', 'exited', 'endpoint with name redis already exists in network demo'),
        Container('app', 'unless-stopped', 'created', ''), Container('web', 'no', 'exited', '')]


# One row per State.Error fixture: the START_ERRORS entry it matches ('' = stays stopped).
ERROR_CASES = [
    ('error_docker20_network_sandbox_join_failed.txt', 'network sandbox join failed'),
    ('error_docker20_endpoint_redis_already_exists.txt', 'already exists in network'),
    ('error_docker20_failed_to_update_store.txt', 'failed to update store'),
    ('error_docker20_failed_get_network_namespace.txt', 'failed get network namespace'),
    ('error_docker26_attaching_to_network_failed.txt', 'attaching to network failed'),
    ('error_docker26_could_not_attach_to_network.txt', 'Could not attach to network'),
    ('error_none_stopped_by_hand.txt', ''),
    ('error_docker20_oci_runtime_not_network.txt', ''),
]


@pytest.mark.parametrize('fixture,expected', ERROR_CASES)
def test_start_errors(fixture, expected):
    assert start_reason(Container('x', 'always', 'exited', error(fixture))) == expected


# One row per journal fixture and backend: the reason it gives to restart dockerd.
JOURNAL_CASES = [
    (CLEAN20, CLUSTER_STORE, ''),
    ('journal_docker20_restore_failure.log', CLUSTER_STORE, RESTORE_FAILED),
    ('journal_docker20_restored_endpoint_without_address.log', CLUSTER_STORE, RESTORED_WITHOUT_ADDRESS),
    ('journal_docker20_learned_peer_without_address.log', CLUSTER_STORE, PEER_WITHOUT_ADDRESS),
    (CLEAN26, SWARM, ''),
    ('journal_docker26_attach_timed_out.log', SWARM, ''),
    ('journal_docker26_lost_gossip_identity.log', SWARM, LOST_IDENTITY),
    # each backend looks only for its own signs
    ('journal_docker20_restore_failure.log', SWARM, ''),
    ('journal_docker20_learned_peer_without_address.log', SWARM, ''),
    ('journal_docker26_lost_gossip_identity.log', CLUSTER_STORE, ''),
    # captured on the lab's nodes: dockerd after a power loss of docker-node1, and a clean start
    ('journal_docker20_restore_failure_captured_node1.log', CLUSTER_STORE, RESTORE_FAILED),
    ('journal_docker20_clean_start_captured_node2.log', CLUSTER_STORE, ''),
]


@pytest.mark.parametrize('fixture,backend,expected', JOURNAL_CASES)
def test_journal_reasons(fixture, backend, expected):
    assert journal_reason(parse_journal(fx(fixture)), backend) == expected


# ------------------------------------------------------------------ planning

@dataclass
class Case:
    """A node's state, by fixture names, and the plan expected from it.
    containers: (name, State.Error fixture[, restart policy[, status]]);
    records: etcd_endpoint_ fixtures, the store's records of network demo;
    journal: one fixture or a tuple (concatenated), None for no invocation."""
    id: str
    journal: object = CLEAN20
    backend: str = CLUSTER_STORE
    procs: tuple = NO_STRAY
    containers: tuple = ()
    records: tuple = ()
    restarts: int = 0
    advertise: object = None   # default: daemon.json's for the backend
    # expected
    reason: str = ''
    start: tuple = ()
    clear: tuple = ()          # (name, network)
    left_alone: tuple = ()     # (name, network, reason)
    error: str = ''


def container(name, error_fixture, policy='always', status='exited'):
    return Container(name, policy, status, error(error_fixture))


def observation(case):
    journals = (case.journal,) if isinstance(case.journal, str) else case.journal
    daemon = 'daemon_json_cluster_store_node2.json' if case.backend == CLUSTER_STORE else 'daemon_json_swarm.json'
    return Observation(
        backend=case.backend,
        journal=None if journals is None else parse_journal(''.join(fx(j) for j in journals)),
        samples=tuple(parse_proc_listing(fx(p)) for p in case.procs),
        containers=[container(*c) for c in case.containers],
        advertise=parse_daemon_json(fx(daemon))[1] if case.advertise is None else case.advertise,
        endpoints={'demo': [parse_endpoint_record(fx(r)) for r in case.records]},
        restarts=case.restarts,
    )


def summary(p):
    return {'reason': p.reason, 'start': tuple(s.name for s in p.start),
            'clear': tuple((s.name, s.network) for s in p.clear),
            'left_alone': tuple((s.name, s.network, s.reason) for s in p.left_alone), 'error': p.error}


SANDBOX = 'error_docker20_network_sandbox_join_failed.txt'
EXISTS = 'error_docker20_endpoint_redis_already_exists.txt'
LIMIT = f'still {RESTORE_FAILED} after 2 dockerd restarts; see journalctl -u docker'

# This node is node2 (redis, 192.168.205.11) unless said otherwise. Add a row per captured case.
CASES = [
    # docs/recovery.md, cluster-store (Docker 20.10)
    Case('case1_restore_failure', journal='journal_docker20_restore_failure.log',
         containers=(('redis', SANDBOX),), reason=RESTORE_FAILED, start=('redis',)),
    Case('case2_second_start_restores_nothing', restarts=1, containers=(('redis', SANDBOX),), start=('redis',)),
    Case('case3_stale_endpoint_of_this_node', containers=(('redis', EXISTS),),
         records=('etcd_endpoint_app_on_node1.json', 'etcd_endpoint_redis_on_node2.json'),
         start=('redis',), clear=(('redis', 'demo'),)),
    # docs/recovery.md, swarm (Docker 23+)
    Case('case4_swarm_attach_gave_up', backend=SWARM, journal='journal_docker26_attach_timed_out.log', procs=(),
         containers=(('app', 'error_docker26_attaching_to_network_failed.txt'),
                     ('redis', 'error_docker26_could_not_attach_to_network.txt', 'unless-stopped')),
         start=('app', 'redis')),
    Case('case5_swarm_lost_gossip_identity', backend=SWARM, journal='journal_docker26_lost_gossip_identity.log',
         procs=(), containers=(('app', 'error_docker26_attaching_to_network_failed.txt'),),
         reason=LOST_IDENTITY, start=('app',)),
    # a start the cluster store refuses, then its record left behind (case 3)
    Case('refused_start_failed_to_update_store', containers=(('redis', 'error_docker20_failed_to_update_store.txt'),),
         start=('redis',)),
    Case('created_failed_get_network_namespace',
         containers=(('app', 'error_docker20_failed_get_network_namespace.txt', 'unless-stopped', 'created'),),
         start=('app',)),
    Case('peer_restored_without_address', journal='journal_docker20_restored_endpoint_without_address.log',
         reason=RESTORED_WITHOUT_ADDRESS),
    Case('peer_learned_without_address', journal='journal_docker20_learned_peer_without_address.log',
         reason=PEER_WITHOUT_ADDRESS),
    Case('stray_thread', procs=STRAY, reason=STRAY_THREAD),
    # nothing to do, or less than everything
    Case('clean_boot'),
    Case('clean_boot_swarm', backend=SWARM, journal=CLEAN26, procs=()),
    Case('stopped_by_hand', containers=(('redis', 'error_none_stopped_by_hand.txt'),)),
    Case('exited_for_another_reason', containers=(('redis', 'error_docker20_oci_runtime_not_network.txt'),)),
    Case('no_restart_policy', containers=(('redis', SANDBOX, 'no'),)),
    Case('running', containers=(('redis', SANDBOX, 'always', 'running'),)),
    Case('another_nodes_endpoint', containers=(('redis', EXISTS),), records=('etcd_endpoint_redis_on_node1.json',),
         start=('redis',), left_alone=(('redis', 'demo', NOT_THIS_NODES),)),
    Case('endpoint_not_in_the_store', containers=(('redis', EXISTS),),
         start=('redis',), left_alone=(('redis', 'demo', NOT_THIS_NODES),)),
    Case('thread_only_in_first_sample', procs=('proc_docker20_thread_in_new_namespace_first.txt',
                                               'proc_docker20_thread_in_new_namespace_second.txt')),
    Case('thread_gone_by_second_sample', procs=(STRAY[0], NO_STRAY[0])),
    Case('one_sample_only', procs=STRAY[:1]),
    Case('no_dockerd_invocation', journal=None, procs=STRAY),
    Case('restart_limit_reached', journal='journal_docker20_restore_failure.log', restarts=2,
         containers=(('redis', SANDBOX),), reason=RESTORE_FAILED, error=LIMIT, start=('redis',)),
    Case('swarm_ignores_restore_signs_and_threads', backend=SWARM, journal='journal_docker20_restore_failure.log',
         procs=STRAY),
    Case('swarm_clears_no_endpoint', backend=SWARM, journal=CLEAN26, procs=(), advertise=NODE2,
         containers=(('redis', EXISTS),), records=('etcd_endpoint_redis_on_node2.json',), start=('redis',)),
    Case('cluster_store_ignores_memberlist', journal='journal_docker26_lost_gossip_identity.log'),
]


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_plan(case):
    expected = {'reason': case.reason, 'start': case.start, 'clear': case.clear,
                'left_alone': case.left_alone, 'error': case.error}
    assert summary(plan(observation(case))) == expected


def test_restore_failure_comes_before_the_peer_signs():
    journal = ('journal_docker20_learned_peer_without_address.log',
               'journal_docker20_restored_endpoint_without_address.log', 'journal_docker20_restore_failure.log')
    assert plan(observation(Case('all', journal=journal))).reason == RESTORE_FAILED


def test_restored_endpoint_comes_before_learned_peer():
    journal = ('journal_docker20_learned_peer_without_address.log',
               'journal_docker20_restored_endpoint_without_address.log')
    assert plan(observation(Case('peers', journal=journal))).reason == RESTORED_WITHOUT_ADDRESS


def test_log_comes_before_a_stray_thread():
    case = Case('both', journal='journal_docker20_learned_peer_without_address.log', procs=STRAY)
    assert plan(observation(case)).reason == PEER_WITHOUT_ADDRESS


def test_endpoint_of_a_running_container_is_left_alone():
    # app was refused for an endpoint named redis; redis runs here (not among the exited)
    obs = observation(Case('x', containers=(('app', EXISTS),), records=('etcd_endpoint_redis_on_node2.json',)))
    p = plan(obs)
    assert summary(p)['left_alone'] == (('redis', 'demo', IN_USE_HERE),) and p.clear == []
    assert [s.name for s in p.start] == ['app']


def test_check_json_keeps_the_scripts_keys():
    p = plan(observation(CASES[0]))
    out = p.to_json()
    assert out['restart_dockerd'] is True and out['start'] == ['redis']
    assert out['reason'] == RESTORE_FAILED and out['start_reasons'] == {'redis': 'network sandbox join failed'}
    assert json.loads(json.dumps(out)) == out


def test_the_plan_says_whether_to_repair_and_whether_the_node_settled():
    """Playbooks gate on these two (repair.yml, etcd-restore.yml), never on the parts."""
    restart = plan(observation(CASES[0]))
    assert restart.to_json()['repairs'] and not restart.to_json()['settled']
    clean = plan(observation(Case('clean'))).to_json()
    assert not clean['repairs'] and clean['settled']
    refused = Plan(reason=RESTORE_FAILED, error='refused after two restarts')
    assert refused.repairs and not refused.acts  # the repair runs, to report the refusal
    assert not Plan(reason=RESTORE_FAILED).settled
    stale_only = Plan(clear=[Stale('redis', 'demo', '')])
    assert stale_only.repairs and stale_only.settled


def test_diff_names_what_changes():
    p = plan(observation(Case('x', journal='journal_docker20_restore_failure.log', containers=(('redis', EXISTS),),
                              records=('etcd_endpoint_redis_on_node2.json',))))
    diff = plan_diff(p)
    assert f'needs a restart ({RESTORE_FAILED})' in diff['before'] and 'dockerd: restarted' in diff['after']
    assert 'container redis: started' in diff['after'] and 'endpoint redis in demo: removed' in diff['after']
    nothing = plan_diff(plan(observation(Case('clean'))))
    assert nothing['before'] == nothing['after'] == 'dockerd: running\n'


# ------------------------------------------------------------------ the side-effect layer

def listing_paths(text):
    """{path: value} of a proc_ fixture (a readlink value, or an inode)."""
    return dict(line.split(None, 1) for line in text.splitlines() if line.strip())


class FakeFiles:
    """Files by path; /proc and /run/docker/netns from proc_ fixtures, the
    next one after each sleep of SAMPLE_GAP. Records writes and removals."""

    def __init__(self, files, listings):
        self.files = dict(files)
        self.listings = [listing_paths(fx(n)) for n in listings]
        self.writes = []

    def next_sample(self):
        if len(self.listings) > 1:
            self.listings.pop(0)

    def read(self, path):
        return self.files.get(path)

    def write(self, path, text):
        self.writes.append(('write', path, text))
        self.files[path] = text

    def remove(self, path):
        self.writes.append(('remove', path))
        self.files.pop(path, None)

    def readlink(self, path):
        value = self.listings[0].get(path, '')
        return value if value.startswith('net:') else None

    def listdir(self, path):
        return sorted({p[len(path) + 1:].split('/')[0] for p in self.listings[0] if p.startswith(path + '/')})

    def inode(self, path):
        value = self.listings[0].get(path, '')
        return int(value) if value.isdigit() else None


class FakeNode:
    """A node: dockerd (one journal fixture per invocation), containers,
    the store's records of demo, /proc. ``run`` answers the commands
    NodeRunner uses and records them; anything else fails the test."""

    def __init__(self, daemon='daemon_json_cluster_store_node2.json', journals=(CLEAN20,), containers=(),
                 records=(), listings=NO_STRAY, restarts=None, fail_starts=None, journal_on_failed_start=None,
                 dockerd_up=True, etcd_up=True, swarm_active_after=0):
        files = {DAEMON_JSON: fx(daemon)}
        if restarts is not None:
            files[RESTARTS_FILE] = restarts
        self.files = FakeFiles(files, listings)
        self.journals = [fx(j) for j in journals]
        self.invocation = 0
        self.containers = {c[0]: {'policy': c[2] if len(c) > 2 else 'always', 'status': 'exited',
                                  'error': error(c[1])} for c in containers}
        self.records = {}
        for r in records:
            self.records[f"{ENDPOINT_KEYS}{DEMO_ID}/{json.loads(fx(r))['id']}"] = fx(r)
        self.fail_starts = dict(fail_starts or {})
        self.journal_on_failed_start = journal_on_failed_start
        self.dockerd_up, self.etcd_up = dockerd_up, etcd_up
        self.swarm_active_after = swarm_active_after
        self.calls, self.sleeps = [], []

    def runner(self):
        return NodeRunner(self.run, files=self.files, sleep=self.sleep, etcdctl='lab-etcdctl')

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        if seconds == SAMPLE_GAP:
            self.files.next_sample()

    def run(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        for prefix, answer in self.ANSWERS:
            if argv[:len(prefix)] == prefix:
                return answer(self, argv)
        raise AssertionError(f'unexpected command {argv}')

    # ---- answers
    def docker_info(self, argv):
        if len(argv) == 2:
            return (0 if self.dockerd_up else 1), 'Server Version: 20.10.24\n', ''
        return 0, ('active' if sum(self.sleeps) >= self.swarm_active_after else 'pending') + '\n', ''

    def docker_ps(self, argv):
        return 0, ''.join(f'id-{n}\n' for n, c in self.containers.items() if c['status'] in ('exited', 'created')), ''

    def docker_inspect(self, argv):
        ids = argv[4:]
        return 0, ''.join(f"/{n} {c['policy']} {c['status']} {c['error']}\n"
                          for n, c in self.containers.items() if f'id-{n}' in ids), ''

    def docker_start(self, argv):
        name = argv[2]
        if self.fail_starts.get(name, 0) > 0:
            self.fail_starts[name] -= 1
            if self.journal_on_failed_start:
                self.journals[self.invocation] += fx(self.journal_on_failed_start)
            return 1, '', f"Error response from daemon: {self.containers[name]['error']}"
        self.containers[name].update(status='running', error='')
        return 0, name + '\n', ''

    def docker_rename(self, argv):
        old, new = argv[2], argv[3]
        if old not in self.containers or new in self.containers:
            return 1, '', 'Error response from daemon: no such container'
        self.containers = {(new if n == old else n): c for n, c in self.containers.items()}
        return 0, '', ''

    def docker_disconnect(self, argv):
        name = argv[5]
        for key in [k for k, v in self.records.items() if parse_endpoint_record(v) == Endpoint(name, NODE2)]:
            del self.records[key]
        return 0, '', ''

    def docker_network_inspect(self, argv):
        return (0, DEMO_ID + '\n', '') if argv[-1] == 'demo' else (1, '', f'Error: No such network: {argv[-1]}')

    def etcd_v2(self, argv):
        op, key = [a for a in argv[3:] if not a.startswith('--endpoints=')]
        if op == 'ls':
            return 0, ''.join(k + '\n' for k in sorted(self.records) if k.startswith(key + '/')), ''
        if key in self.records:
            return 0, self.records[key], ''
        return 4, '', f'Error:  100: Key not found ({key}) [812]'

    def etcd_v3(self, argv):
        """etcd_up: every member answers, or the set of --endpoints= values that do."""
        asked = next((a.split('=', 1)[1] for a in argv if a.startswith('--endpoints=')), 'local')
        up = self.etcd_up is True or (self.etcd_up and asked in self.etcd_up)
        return (0, f'{asked} is healthy\n', '') if up else (1, '', 'unhealthy\n')

    def invocation_id(self, argv):
        return 0, f'inv{self.invocation}\n', ''

    def journalctl(self, argv):
        return 0, self.journals[int(argv[-1].rsplit('inv', 1)[1])], ''

    def restart(self, argv):
        self.invocation = min(self.invocation + 1, len(self.journals) - 1)
        self.files.listings = [listing_paths(fx(NO_STRAY[0]))]
        return 0, '', ''

    def ok(self, argv):
        return 0, '', ''

    ANSWERS = [
        (['docker', 'info'], docker_info),
        (['docker', 'ps'], docker_ps),
        (['docker', 'inspect'], docker_inspect),
        (['docker', 'start'], docker_start),
        (['docker', 'rename'], docker_rename),
        (['docker', 'network', 'disconnect', '--force'], docker_disconnect),
        (['docker', 'network', 'inspect', '-f', '{{.Id}}'], docker_network_inspect),
        (['env', 'ETCDCTL_API=2'], etcd_v2),
        (['env', 'ETCDCTL_API=3'], etcd_v3),
        (['systemctl', 'show', '-p', 'InvocationID', '--value', 'docker.service'], invocation_id),
        (['systemctl', 'show', '-p', 'MainPID', '--value', 'docker.service'], lambda self, argv: (0, '812\n', '')),
        (['journalctl', '-q', '-o', 'cat'], journalctl),
        (['systemctl', 'restart', 'docker.service'], restart),
        (['systemctl', 'restart', '--no-block', 'docker.service'], ok),
        (['systemctl', 'reset-failed', 'docker.service'], ok),
        (['systemctl', 'daemon-reload'], ok),
    ]


def changes(calls):
    """The commands that change the node."""
    return [c for c in calls if c[:2] in (['docker', 'start'], ['docker', 'rename'])
            or c[:3] == ['docker', 'network', 'disconnect'] or c[:2] in (['systemctl', 'restart'],
                                                                         ['systemctl', 'reset-failed'])]


def said(*lines):
    return ['overlay-recover: ' + line for line in lines]


def power_loss_of_every_node(**kw):
    """node2 after every node lost power: dockerd's restore failed, redis's endpoint record stayed."""
    kw.setdefault('journals', ('journal_docker20_restore_failure.log', CLEAN20))
    return FakeNode(containers=(('redis', EXISTS),),
                    records=('etcd_endpoint_app_on_node1.json', 'etcd_endpoint_redis_on_node2.json'), **kw)


def test_repair_clears_then_restarts_once_then_starts():
    node = power_loss_of_every_node()
    runner = node.runner()
    actions = runner.recover()
    assert changes(node.calls) == [
        ['docker', 'rename', 'redis', 'redis.overlay-recover'],
        ['docker', 'network', 'disconnect', '--force', 'demo', 'redis'],
        ['docker', 'rename', 'redis.overlay-recover', 'redis'],
        ['systemctl', 'reset-failed', 'docker.service'],
        ['systemctl', 'restart', 'docker.service'],
        ['docker', 'start', 'redis']]
    assert actions == said('removed the stale endpoint redis from demo',
                           f'{RESTORE_FAILED}; restarting dockerd', 'started redis')
    assert runner.changed and node.files.files[RESTARTS_FILE] == '1\n'
    assert node.containers['redis']['status'] == 'running'
    # etcd is asked for its health before its records are read
    health = node.calls.index(['env', 'ETCDCTL_API=3', 'lab-etcdctl', '--endpoints=https://192.168.205.11:2379',
                               '--dial-timeout=2s', '--command-timeout=3s', 'endpoint', 'health'])
    assert health < min(i for i, c in enumerate(node.calls) if c[:2] == ['env', 'ETCDCTL_API=2'])


def test_boot_queues_the_restart_and_stops():
    node = FakeNode(journals=('journal_docker20_restore_failure.log',), containers=(('redis', SANDBOX),))
    actions = node.runner().recover(boot=True)
    assert changes(node.calls) == [['systemctl', 'restart', '--no-block', 'docker.service']]
    assert node.calls[-1] == ['systemctl', 'restart', '--no-block', 'docker.service'], 'nothing after queuing it'
    assert actions == said(f'{RESTORE_FAILED}; restarting dockerd')
    assert node.files.files[RESTARTS_FILE] == '1\n'


def test_check_changes_nothing():
    node = power_loss_of_every_node()
    p = node.runner().check()
    assert changes(node.calls) == [] and node.files.writes == []
    assert p.restart_dockerd and [s.name for s in p.start] == ['redis']
    assert [(s.name, s.network) for s in p.clear] == [('redis', 'demo')]


def test_check_prints_json_and_changes_nothing():
    node = power_loss_of_every_node()
    out, err = io.StringIO(), io.StringIO()
    assert main(['--check'], run=node.run, files=node.files, sleep=node.sleep, out=out, err=err) == 0
    answer = json.loads(out.getvalue())
    assert answer['restart_dockerd'] is True and answer['start'] == ['redis']
    assert answer['clear'] == [{'name': 'redis', 'network': 'demo'}]
    assert changes(node.calls) == [] and node.files.writes == [] and err.getvalue() == ''


def test_restart_limit_refuses_a_third_restart():
    node = FakeNode(journals=('journal_docker20_restore_failure.log', CLEAN20), containers=(('redis', SANDBOX),),
                    restarts='2\n')
    with pytest.raises(RecoverFailed) as failed:
        node.runner().recover()
    assert failed.value.message == LIMIT
    assert changes(node.calls) == [] and node.files.files[RESTARTS_FILE] == '2\n'
    err = io.StringIO()
    node = FakeNode(journals=('journal_docker20_restore_failure.log',), restarts='2\n')
    assert main(['--repair'], run=node.run, files=node.files, sleep=node.sleep, out=io.StringIO(), err=err) == 1
    assert err.getvalue() == f'overlay-recover: {LIMIT}\n'


def test_clean_start_resets_the_restart_count():
    node = FakeNode(containers=(('redis', SANDBOX),), restarts='1\n')
    assert node.runner().recover() == said('started redis')
    assert ('remove', RESTARTS_FILE) in node.files.writes and RESTARTS_FILE not in node.files.files
    assert not [c for c in changes(node.calls) if c[0] == 'systemctl']


def test_another_nodes_endpoint_is_left_alone_and_starts_are_bounded():
    node = FakeNode(containers=(('redis', EXISTS),), records=('etcd_endpoint_redis_on_node1.json',),
                    fail_starts={'redis': 1000})
    with pytest.raises(RecoverFailed) as failed:
        node.runner().recover()
    assert failed.value.message == 'could not start: redis'
    assert not [c for c in changes(node.calls) if c[1] in ('rename', 'network')]
    assert failed.value.actions[0] == "overlay-recover: endpoint redis in demo is not this node's; left alone"
    assert node.calls.count(['docker', 'start', 'redis']) == 30
    assert node.sleeps == [5] * 29
    assert len(node.records) == 1, "another node's record stays"


def test_stray_thread_is_sampled_twice():
    node = FakeNode(listings=STRAY)
    assert node.runner().check().reason == STRAY_THREAD
    assert node.sleeps == [SAMPLE_GAP]
    node = FakeNode(listings=('proc_docker20_thread_in_new_namespace_first.txt',
                              'proc_docker20_thread_in_new_namespace_second.txt'))
    assert node.runner().check().reason == ''
    node = FakeNode(listings=NO_STRAY)
    assert node.runner().check().reason == '' and node.sleeps == [], 'no second sample without a stray thread'


def test_stray_thread_repair_restarts_dockerd():
    node = FakeNode(listings=STRAY)
    assert node.runner().recover() == said(f'{STRAY_THREAD}; restarting dockerd')
    assert node.calls.count(['systemctl', 'restart', 'docker.service']) == 1


def test_swarm_waits_then_restarts_when_identity_is_lost_while_pending():
    node = FakeNode(daemon='daemon_json_swarm.json', journals=(CLEAN26, CLEAN26),
                    containers=(('app', 'error_docker26_attaching_to_network_failed.txt'),),
                    fail_starts={'app': 1}, journal_on_failed_start='journal_docker26_lost_gossip_identity.log',
                    swarm_active_after=4)
    actions = node.runner().recover()
    assert actions == said(f'{LOST_IDENTITY}; restarting dockerd', 'started app')
    assert changes(node.calls) == [['docker', 'start', 'app'], ['systemctl', 'reset-failed', 'docker.service'],
                                   ['systemctl', 'restart', 'docker.service'], ['docker', 'start', 'app']]
    # without its identity dockerd does not leave the gossip: its next start waits
    assert ('write', RUNNING_FILE, LOST_MARK) in node.files.writes
    assert node.sleeps == [2, 2, 5], 'waited for the swarm, then between rounds'
    assert not [c for c in node.calls if c[0] == 'env'], 'no etcd on swarm'


def test_a_lost_identity_at_boot_is_queued_with_its_mark():
    node = FakeNode(daemon='daemon_json_swarm.json', journals=('journal_docker26_lost_gossip_identity.log',),
                    containers=(('redis', 'error_docker26_attaching_to_network_failed.txt'),))
    assert node.runner().recover(boot=True) == said(f'{LOST_IDENTITY}; restarting dockerd')
    assert changes(node.calls) == [['systemctl', 'restart', '--no-block', 'docker.service']]
    assert node.files.files[RUNNING_FILE] == LOST_MARK


def connections(name):
    """A gossip_port_ fixture as gossip_connections yields it: (address, first bytes), in order."""
    return [(address, bytes.fromhex(first)) for _at, address, first in
            (line.split() for line in fx(name).splitlines() if line and not line.startswith('#'))]


class GossipPort:
    """The gossip port while dockerd is down, answering from a gossip_port_ fixture (or nothing);
    records each wait's limit and how many connections the engine took."""

    def __init__(self, name=None):
        self.connections, self.limits, self.taken = connections(name) if name else [], [], 0

    def __call__(self, limit):
        self.limits.append(limit)
        for item in self.connections:
            self.taken += 1
            yield item


QUICK, LONG = 'gossip_port_docker26_quick_power_cycle.txt', 'gossip_port_docker26_long_power_loss.txt'


def test_what_connects_to_the_gossip_port_while_dockerd_is_down():
    quick = [gossip_kind(first) for _address, first in connections(QUICK)]
    assert quick == ['ping'] * 3 + ['push-pull'] * 3, 'fallback pings while suspect, reconnects once failed'
    assert {gossip_kind(first) for _address, first in connections(LONG)} == {'push-pull'}


@pytest.mark.parametrize('name, decided_at', [
    (QUICK, 2),   # the second fallback ping: the manager's first probe of the old identity failed
    (LONG, 2),    # the second reconnect: the old identity failed on the manager before the node was back
])
def test_a_peer_forgets_the_old_identity_at_its_second_connection_of_one_kind(name, decided_at):
    seen = connections(name)
    assert forgetting_peer(seen[:decided_at - 1]) is None, 'one probe may still be under way'
    assert forgetting_peer(seen[:decided_at]) == NODE1


def test_no_peer_forgets_the_old_identity_from_one_connection_of_each_kind_or_of_each_peer():
    ping, push_pull = connections(QUICK)[0][1], connections(QUICK)[-1][1]
    assert forgetting_peer([(NODE1, push_pull), (NODE1, ping)]) is None, "memberlist's push-pull comes every 30 s"
    assert forgetting_peer([(NODE1, ping), ('192.168.205.12', ping)]) is None, 'each peer probes on its own'
    assert forgetting_peer([(NODE1, ping), (NODE1, b'')]) is None, 'a connection that sent nothing'
    assert forgetting_peer([]) is None


def test_gossip_connections_yields_each_connection_s_first_bytes_and_answers_none():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    seen = gossip_connections(5, port=port)
    ping, push_pull = connections(QUICK)[0][1], connections(QUICK)[-1][1]
    answers = []

    def peer():
        for message in (ping, push_pull):
            for _try in range(50):
                try:
                    conn = socket.create_connection(('127.0.0.1', port), 1)
                    break
                except OSError:
                    threading.Event().wait(0.05)
            with conn:
                conn.sendall(message)
                answers.append(conn.recv(10))

    thread = threading.Thread(target=peer)
    thread.start()
    got = [next(seen), next(seen)]
    seen.close()
    thread.join(5)
    assert got == [('127.0.0.1', ping), ('127.0.0.1', push_pull)]
    assert answers == [b'', b''], 'closed unanswered'


@pytest.mark.parametrize('daemon, running, pause', [
    ('daemon_json_swarm.json', STARTED_MARK, GOSSIP_FORGET),         # a power loss on swarm
    ('daemon_json_swarm.json', LOST_MARK, GOSSIP_FORGET),            # restarted for a lost identity
    ('daemon_json_swarm.json', None, 0),                             # the last stop was clean
    ('daemon_json_cluster_store_node2.json', STARTED_MARK, 0),       # no gossip identity to lose
])
def test_dockerd_waits_before_it_starts_only_on_swarm_after_an_unclean_stop(daemon, running, pause):
    assert start_pause(parse_daemon_json(fx(daemon))[0], running) == pause
    node, port = FakeNode(daemon=daemon), GossipPort(QUICK)
    node.files.files[SWARM_STATE] = fx('swarm_state_docker26_worker.json')
    if running is not None:
        node.files.files[RUNNING_FILE] = running
    out = io.StringIO()
    assert main(['--before-start'], run=node.run, files=node.files, sleep=node.sleep, out=out, listen=port,
                connects=Manager(0)) == 0
    assert node.calls == [], 'nothing asked of dockerd before it starts'
    assert port.limits == [pause] * bool(pause) and node.sleeps == []
    assert port.taken == 2 * bool(pause), 'dockerd starts at the second fallback ping'
    assert bool(pause) == (f'{NODE1} no longer takes the old identity for alive' in out.getvalue())
    assert node.files.files[RUNNING_FILE] == STARTED_MARK


def test_a_worker_starts_after_the_bound_when_no_peer_probes_its_old_identity():
    """The manager rebooted too (it has forgotten every identity), or is down."""
    node, port = FakeNode(daemon='daemon_json_swarm.json'), GossipPort()
    node.files.files[SWARM_STATE] = fx('swarm_state_docker26_worker.json')
    node.files.files[RUNNING_FILE] = STARTED_MARK
    out = io.StringIO()
    assert main(['--before-start'], run=node.run, files=node.files, sleep=node.sleep, out=out, listen=port,
                connects=Manager(0)) == 0
    assert port.limits == [GOSSIP_FORGET] and node.calls == []
    assert f'no peer probed the old identity in {GOSSIP_FORGET} s' in out.getvalue()


def test_the_manager_keeps_the_whole_wait_and_leaves_its_gossip_port_alone():
    """A worker booting beside it checks the manager's gossip port: a listener there would answer
    for a dockerd that has not started, and the worker's join would be refused (symptom 6)."""
    node, port = FakeNode(daemon='daemon_json_swarm.json'), GossipPort(QUICK)
    node.files.files[SWARM_STATE] = fx('swarm_state_docker26_manager.json')
    node.files.files[RUNNING_FILE] = STARTED_MARK
    out = io.StringIO()
    assert main(['--before-start'], run=node.run, files=node.files, sleep=node.sleep, out=out, listen=port) == 0
    assert port.limits == [] and node.sleeps == [GOSSIP_FORGET] and node.calls == []
    assert f'waiting {GOSSIP_FORGET} s for the swarm to forget its identity' in out.getvalue()


def test_the_manager_a_node_joined_through():
    assert joined_through(fx('swarm_state_docker26_worker.json')) == NODE1
    assert joined_through(fx('swarm_state_docker26_manager.json')) is None, 'the node that created the swarm'
    assert joined_through(None) is None and joined_through('not json') is None


class Manager:
    """The manager's gossip port as a booting worker sees it: refused until ``after`` tries."""

    def __init__(self, after):
        self.after, self.asked = after, []

    def __call__(self, address, port):
        self.asked.append((address, port))
        return len(self.asked) > self.after


@pytest.mark.parametrize('running, after, pause', [
    (None, 3, 0),               # the host restarts: the worker boots with its manager
    (STARTED_MARK, 0, GOSSIP_FORGET),   # a power loss of the worker alone: its manager answers
])
def test_a_swarm_worker_waits_for_its_managers_gossip_port_before_dockerd_starts(running, after, pause):
    """journal_docker26_worker_join_refused.log: a worker whose dockerd started a moment before
    its manager's had its join refused, joined a minute later, and its containers' names stayed
    unknown on the manager (the app answered 503: redis has no address)."""
    node = FakeNode(daemon='daemon_json_swarm.json')
    node.files.files[SWARM_STATE] = fx('swarm_state_docker26_worker.json')
    if running is not None:
        node.files.files[RUNNING_FILE] = running
    manager, port, out = Manager(after), GossipPort(QUICK), io.StringIO()
    assert main(['--before-start'], run=node.run, files=node.files, sleep=node.sleep, out=out, connects=manager,
                listen=port) == 0
    # The port it waits on is the one whose join the journal shows refused.
    refused = re.search(r'Failed to join (\S+):(\d+)', fx('journal_docker26_worker_join_refused.log'))
    assert manager.asked == [(refused.group(1), int(refused.group(2)))] * (after + 1)
    assert port.limits == [pause] * bool(pause) and node.sleeps == [2] * after and node.calls == []
    assert 'does not answer' not in out.getvalue()
    assert node.files.files[RUNNING_FILE] == STARTED_MARK


def test_a_worker_whose_manager_stays_down_starts_after_the_bound():
    node = FakeNode(daemon='daemon_json_swarm.json')
    node.files.files[SWARM_STATE] = fx('swarm_state_docker26_worker.json')
    out = io.StringIO()
    assert main(['--before-start'], run=node.run, files=node.files, sleep=node.sleep, out=out,
                connects=Manager(10 ** 6)) == 0
    assert sum(node.sleeps) == MANAGER_WAIT
    assert f'the manager {NODE1} does not answer on 7946/tcp after {MANAGER_WAIT} s' in out.getvalue()
    assert node.files.files[RUNNING_FILE] == STARTED_MARK


@pytest.mark.parametrize('daemon, state', [
    ('daemon_json_swarm.json', 'swarm_state_docker26_manager.json'),   # the manager waits for nobody
    ('daemon_json_cluster_store_node2.json', 'swarm_state_docker26_worker.json'),   # a swarm left behind
])
def test_no_wait_for_a_manager_where_there_is_none_to_join(daemon, state):
    node = FakeNode(daemon=daemon)
    node.files.files[SWARM_STATE] = fx(state)
    manager = Manager(10 ** 6)
    assert main(['--before-start'], run=node.run, files=node.files, sleep=node.sleep, out=io.StringIO(),
                connects=manager) == 0
    assert manager.asked == [] and node.sleeps == []


@pytest.mark.parametrize('mark, result, kept', [
    (STARTED_MARK, 'success', False), (STARTED_MARK, 'signal', True), (STARTED_MARK, 'timeout', True),
    (LOST_MARK, 'success', True),   # a dockerd without its identity did not leave the gossip
])
def test_only_a_clean_stop_clears_the_mark(monkeypatch, mark, result, kept):
    node = FakeNode(daemon='daemon_json_swarm.json')
    node.files.files[RUNNING_FILE] = mark
    monkeypatch.setenv('SERVICE_RESULT', result)
    assert main(['--after-stop'], run=node.run, files=node.files, sleep=node.sleep, out=io.StringIO()) == 0
    assert (RUNNING_FILE in node.files.files) == kept and node.calls == []


def test_swarm_that_never_settles_fails():
    node = FakeNode(daemon='daemon_json_swarm.json', journals=(CLEAN26,), swarm_active_after=10 ** 6,
                    containers=(('app', 'error_docker26_attaching_to_network_failed.txt'),))
    with pytest.raises(RecoverFailed, match='node not active in the swarm after 600 s'):
        node.runner().recover()
    assert sum(node.sleeps) == 600 and changes(node.calls) == []


def test_dockerd_that_does_not_answer_fails():
    node = FakeNode(dockerd_up=False)
    err = io.StringIO()
    assert main(['--check'], run=node.run, files=node.files, sleep=node.sleep, out=io.StringIO(), err=err) == 1
    assert err.getvalue() == 'overlay-recover: dockerd does not answer\n'
    assert sum(node.sleeps) == 120 and node.calls.count(['docker', 'info']) == 61


def test_unhealthy_etcd_is_waited_for_then_passed():
    node = FakeNode(etcd_up=False, containers=(('redis', SANDBOX),))
    assert node.runner().recover() == said('etcd is not healthy after 120 s; going on', 'started redis')
    assert sum(node.sleeps) == 120


def test_usage():
    err = io.StringIO()
    assert main(['--bogus'], out=io.StringIO(), err=err) == 2 and 'usage' in err.getvalue()


# ------------------------------------------------------------------ the module

@pytest.fixture
def module(monkeypatch):
    """Runs lab.multihost.overlay_recover against a FakeNode; returns (result, node)."""
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.lab.multihost.plugins.modules import overlay_recover as mod

    def call(node, capsys, **args):
        monkeypatch.setattr(mod, 'NodeRunner', lambda run: node.runner())
        with patch_module_args(args), pytest.raises(SystemExit):
            mod.main()
        return json.loads(capsys.readouterr().out)
    return call


def test_module_check_mode_predicts_and_changes_nothing(module, capsys):
    node = power_loss_of_every_node()
    result = module(node, capsys, _ansible_check_mode=True, _ansible_diff=True)
    assert result['changed'] is True and result['actions'] == []
    assert result['plan']['restart_dockerd'] is True and result['plan']['start'] == ['redis']
    assert 'dockerd: restarted' in result['diff']['after']
    assert changes(node.calls) == [] and node.files.writes == []


def test_module_mode_check_reports_no_change(module, capsys):
    node = power_loss_of_every_node()
    result = module(node, capsys, mode='check')
    assert result['changed'] is False and result['plan']['clear'] == [{'name': 'redis', 'network': 'demo'}]
    assert changes(node.calls) == []


def test_module_repair(module, capsys):
    node = power_loss_of_every_node()
    result = module(node, capsys, mode='repair')
    assert result['changed'] is True and result['plan']['reason'] == RESTORE_FAILED
    assert result['actions'] == said('removed the stale endpoint redis from demo',
                                     f'{RESTORE_FAILED}; restarting dockerd', 'started redis')
    clean = module(FakeNode(), capsys)
    assert clean['changed'] is False and clean['actions'] == []


def test_module_fails_at_the_restart_limit(module, capsys):
    node = FakeNode(journals=('journal_docker20_restore_failure.log',), restarts='2\n')
    result = module(node, capsys)
    assert result['failed'] is True and result['msg'] == LIMIT


def test_the_store_is_the_one_daemon_json_names():
    assert parse_store_endpoints(fx('daemon_json_cluster_store_node2.json')) == ['https://192.168.205.11:2379']
    assert parse_store_endpoints('{"cluster-store": "etcd://10.0.0.1:2379,10.0.0.2:2379"}') == [
        'http://10.0.0.1:2379', 'http://10.0.0.2:2379']
    assert parse_store_endpoints(fx('daemon_json_swarm.json')) == []
    assert parse_store_endpoints(None) == []


def test_a_node_whose_store_is_other_members_does_not_wait_for_its_own():
    """A node that left group etcd (its own member stopped) or was never in it: its dockerd's store
    is the other members, one of them answering is enough; no wait for a local member."""
    node = FakeNode(etcd_up={'https://192.168.205.11:2379'})
    node.files.files[DAEMON_JSON] = fx('daemon_json_cluster_store_node2.json').replace(
        'etcd://192.168.205.11:2379', 'etcd://192.168.205.10:2379,192.168.205.11:2379')
    runner = node.runner()
    assert runner.recover() == [] and not runner.changed
    assert runner.etcd_ok is True and sum(node.sleeps) == 0
