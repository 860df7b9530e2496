"""Unit tests of the readers (module_utils/readers/, the node_state module's batch) on output captured from
docker-node1 of the running lab (fixtures/node_state/): systemctl show, dpkg-query,
docker network inspect and docker inspect; files and a fake runner for the rest."""

import json
import os
import pathlib

from ansible_collections.lab.multihost.plugins.module_utils.readers.docker import (
    engine_api,
    parse_containers,
    parse_networks,
)
from ansible_collections.lab.multihost.plugins.module_utils.readers.etcd import healthy as etcd_healthy
from ansible_collections.lab.multihost.plugins.module_utils.readers.files import file_facts
from ansible_collections.lab.multihost.plugins.module_utils.readers.nft import table_matches
from ansible_collections.lab.multihost.plugins.module_utils.readers.node import NodeReader
from ansible_collections.lab.multihost.plugins.module_utils.readers.packages import parse_candidates, parse_packages
from ansible_collections.lab.multihost.plugins.module_utils.readers.units import parse_units

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'node_state'


def _text(name):
    return (FIXTURES / name).read_text()


def test_units_in_order_and_a_missing_one():
    units = parse_units(['docker', 'etcd', 'lab-fence', 'no-such-unit'], _text('systemctl_show.txt'))
    assert units['docker'] == {'loaded': True, 'enabled': True, 'active': True}
    assert units['no-such-unit'] == {'loaded': False, 'enabled': False, 'active': False}


def test_units_when_systemctl_printed_nothing():
    assert parse_units(['docker'], '') == {'docker': {'loaded': False, 'enabled': False, 'active': False}}


def test_packages_installed_and_missing():
    assert parse_packages(['docker.io', 'etcd-server', 'no-such-package'], _text('dpkg_query.txt')) == {
        'docker.io': '20.10.24+dfsg1-1+deb12u1+b6', 'etcd-server': '3.4.23-4+b4', 'no-such-package': None}


def test_a_removed_package_is_not_installed():
    assert parse_packages(['nftables'], 'nftables config-files 1.0.6-2\n') == {'nftables': None}


def test_networks_by_name_with_driver_and_subnet():
    nets = parse_networks(json.loads(_text('docker_network_inspect.json')))
    assert nets['demo']['driver'] == 'overlay' and nets['demo']['scope'] == 'global'
    assert nets['demo']['subnets'] == ['10.0.0.0/24']
    assert nets['my-bridge']['driver'] == 'bridge'


def test_containers_with_state_labels_and_networks():
    containers = parse_containers(json.loads(_text('docker_inspect.json')))
    app = containers['app']
    assert app['running'] and app['status'] == 'running' and app['networks'] == ['demo']
    assert app['restart_policy'] == 'unless-stopped' and 'lab.multihost.spec' in app['labels']


def test_file_facts(tmp_path):
    path = tmp_path / 'f'
    path.write_text('hello\n')
    os.chmod(path, 0o640)
    facts = file_facts(str(path))
    assert facts['exists'] and facts['type'] == 'file' and facts['mode'] == '0640'
    assert facts['checksum'] == 'f572d396fae9206628714fb2ce00f72e94f2258f'  # sha1 of "hello\n"
    assert file_facts(str(tmp_path))['type'] == 'directory'
    assert file_facts(str(tmp_path / 'missing')) == {'exists': False}
    os.symlink(str(path), str(tmp_path / 'link'))
    link = file_facts(str(tmp_path / 'link'))
    assert link['type'] == 'link' and link['target'] == str(path) and 'checksum' not in link


class FakeRun:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, argv):
        self.calls.append(argv)
        for prefix, answer in self.answers:
            if argv[:len(prefix)] == prefix:
                return answer
        return 1, '', 'not found'


def test_no_engine_reads_as_none():
    assert NodeReader(FakeRun([]), api=lambda path: None).read(docker=True)['docker'] is None


def test_engine_read_through_its_api():
    """Captured from docker-node1's Engine API: /networks, /containers/json?all=1, /images/json;
    a container's /containers/<id>/json is what docker inspect prints."""
    inspected = {c['Name']: c for c in json.loads(_text('docker_inspect.json'))}
    listed = json.loads(_text('docker_api_containers.json'))
    answers = {
        '/version': {'Version': '20.10.24+dfsg1'},
        '/info': {'Swarm': {'LocalNodeState': 'inactive', 'ControlAvailable': False}},
        '/networks': json.loads(_text('docker_api_networks.json')),
        '/containers/json?all=1': listed,
        '/images/json': json.loads(_text('docker_api_images.json')) + [{'RepoTags': None}],
    }
    for c in listed:
        answers[f"/containers/{c['Id']}/json"] = inspected[c['Names'][0]]
    asked = []

    def api(path):
        asked.append(path)
        return answers.get(path)

    run = FakeRun([])
    engine = NodeReader(run, api=api).read(docker=True)['docker']
    assert engine['version'] == '20.10.24+dfsg1' and engine['swarm'] == 'inactive'
    assert engine['networks']['demo']['driver'] == 'overlay' and engine['networks']['demo']['scope'] == 'global'
    assert engine['containers']['app']['running'] and 'demo' in engine['containers']['app']['networks']
    assert engine['images'] == ['debian:bookworm', 'lab/app:5a3c355ada06']
    assert run.calls == [] and len(asked) == 6


def test_engine_api_without_a_socket_is_none(tmp_path):
    assert engine_api('/version', socket_path=str(tmp_path / 'docker.sock'), timeout=1) is None


def test_fence_matches_only_when_the_kernel_prints_what_the_file_loads():
    rules = 'table inet lab_fence {\n}\n'
    same = FakeRun([(['nft'], (0, rules, '')), (['unshare'], (0, rules, ''))])
    assert NodeReader(same).read(nft={'table': 'inet lab_fence', 'ruleset': '/etc/lab-fence.nft'})['nft'] == {
        'inet lab_fence': True}
    flushed = FakeRun([(['nft'], (0, 'table inet lab_fence {\n\tchain input {\n\t}\n}\n', '')),
                       (['unshare'], (0, rules, ''))])
    assert not table_matches(flushed, 'inet lab_fence', '/etc/lab-fence.nft')
    gone = FakeRun([(['unshare'], (0, rules, ''))])
    assert not table_matches(gone, 'inet lab_fence', '/etc/lab-fence.nft')


def test_contents_base64_and_a_missing_file(tmp_path):
    secret = tmp_path / 'password'
    secret.write_bytes(b'p4ss\n')
    state = NodeReader(FakeRun([])).read(contents=[str(secret), str(tmp_path / 'missing')])
    assert state['contents'] == {str(secret): 'cDRzcwo=', str(tmp_path / 'missing'): None}


def test_etcd_health_asks_the_member_with_its_certificates():
    healthy = FakeRun([(['etcdctl'], (0, '127.0.0.1:2379 is healthy', ''))])
    state = NodeReader(healthy).read(etcd_health={'endpoint': 'https://127.0.0.1:2379', 'cacert': '/p/ca.crt',
                                                  'cert': '/p/c.crt', 'key': '/p/c.key'})
    assert state['etcd_healthy'] is True
    argv = healthy.calls[0]
    assert argv[-2:] == ['endpoint', 'health'] and '--endpoints=https://127.0.0.1:2379' in argv
    assert {'--cacert=/p/ca.crt', '--cert=/p/c.crt', '--key=/p/c.key'} <= set(argv)
    plain = FakeRun([(['etcdctl'], (1, '', 'http://127.0.0.1:2379 is unhealthy'))])
    assert etcd_healthy(plain, 'http://127.0.0.1:2379') is False
    assert not [a for a in plain.calls[0] if a.startswith(('--cacert', '--cert', '--key'))]
    assert etcd_healthy(FakeRun([]), 'http://127.0.0.1:2379') is False  # no etcdctl


def test_candidates_from_apt_lists_and_without_them():
    """apt-cache policy on a converged node (lists read), and with empty lists: a package not
    installed has no candidate there (apt cannot locate it), an installed one has its own."""
    names = ['nftables', 'tcpdump', 'no-such-package']
    assert parse_candidates(names, _text('apt_cache_policy.txt')) == {
        'nftables': '1.0.6-2+deb12u2', 'tcpdump': '4.99.3-1', 'no-such-package': None}
    assert parse_candidates(names[:2], _text('apt_cache_policy_no_lists.txt')) == {
        'nftables': '1.0.6-2+deb12u2', 'tcpdump': None}
    assert parse_candidates(['x'], 'x:\n  Installed: (none)\n  Candidate: (none)\n') == {'x': None}
