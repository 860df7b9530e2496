"""Unit tests of lab_topology (the lab_topology_info module's engine) on
output captured read-only from docker-node1 of the running lab:
``ip -j -d addr show`` and ``ip -j netns list-id`` of its namespaces,
``bridge -j fdb show dev vxlan0`` of the overlay demo, ``docker network
inspect`` and etcdctl's JSON (fixtures/lab_topology_node1.json)."""

import json
import pathlib

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.lab_topology import (
    OVERLAY_NS,
    Gatherer,
    bridges,
    endpoints,
    network_view,
    parse_etcd,
    parse_fdb,
    parse_netnsids,
    parse_topology_links,
    veth_pairs,
)

SAMPLES = json.loads((pathlib.Path(__file__).parent / 'fixtures' / 'lab_topology_node1.json').read_text())
OVERLAY = '/var/run/docker/netns/2-2173fe2ce2'
CONTAINER = '/var/run/docker/netns/94e944d22424'


def _named():
    return [{'id': ns, 'kind': 'named', 'path': None, 'links': parse_topology_links(SAMPLES['ip_addr'][ns]),
             'netnsids': parse_netnsids(SAMPLES['list_id'][ns])}
            for ns in ('ns-br1', 'ns-br2', 'ns-br3', 'ns-lab-sw', 'test1', 'test2')]


def _docker():
    return [{'id': OVERLAY, 'kind': 'overlay', 'path': OVERLAY, 'netid': '2173fe2ce2', 'netnsids': {},
             'links': parse_topology_links(SAMPLES['ip_addr']['overlay'])},
            {'id': CONTAINER, 'kind': 'container', 'path': CONTAINER, 'container': 'app', 'netnsids': {},
             'links': parse_topology_links(SAMPLES['ip_addr']['container'])}]


def test_vxlan_device_has_its_vni_port_and_mac():
    links = {link['name']: link for link in parse_topology_links(SAMPLES['ip_addr']['overlay'])}
    vx = links['vxlan0']
    assert (vx['kind'], vx['vni'], vx['port'], vx['mtu'], vx['master']) == ('vxlan', 256, 4789, 1450, 'br0')
    assert links['br0']['kind'] == 'bridge' and links['br0']['addresses'] == ['10.0.0.1/24']
    assert links['veth0']['mac'].count(':') == 5 and 'vni' not in links['veth0']


def test_fdb_keeps_the_entries_with_a_remote_node():
    fdb = parse_fdb(SAMPLES['fdb'])
    assert fdb == [{'mac': '02:42:0a:00:00:fa', 'dst': '192.168.205.11', 'vni': None, 'flags': ['self'],
                    'state': 'permanent'}]


def test_netnsids_name_only_named_namespaces():
    assert parse_netnsids(SAMPLES['list_id']['ns-lab-sw']) == {'0': 'ns-br1', '1': 'ns-br2', '2': 'ns-br3'}
    assert parse_netnsids([{'nsid': 0}, {'nsid': 1}]) == {}


def test_veth_pairs_despite_repeated_indexes():
    # Four veths of the named namespaces have ifindex 2 and peer index 2:
    # only the peer netnsids tell the pairs apart.
    named = _named()
    assert sum((link['ifindex'], link['peer_ifindex']) == (2, 2) for ns in named for link in ns['links']) == 4
    pairs = veth_pairs(named + _docker())
    as_set = {tuple((e['namespace'], e['name']) for e in p) for p in pairs}
    assert {(('ns-br1', 'eth0'), ('ns-lab-sw', 'br1-port')), (('ns-br2', 'eth0'), ('ns-lab-sw', 'br2-port')),
            (('ns-br3', 'eth0'), ('ns-lab-sw', 'br3-port')),
            (('test1', 'veth-test1'), ('test2', 'veth-test2'))} <= as_set
    assert ((OVERLAY, 'veth0'), (CONTAINER, 'eth0')) in as_set
    ends = [e for p in pairs for e in p]
    assert len(ends) == len({(e['namespace'], e['name']) for e in ends}), 'an end in two pairs'


def test_bridges_with_their_ports():
    found = {(b['namespace'], b['name']): b for b in bridges(_named() + _docker())}
    assert found[('ns-lab-sw', 'br-lab')]['ports'] == ['br1-port', 'br2-port', 'br3-port']
    assert found[(OVERLAY, 'br0')]['ports'] == ['veth0', 'vxlan0']


def test_network_view():
    nets = {n['Name']: network_view(n) for n in SAMPLES['network_inspect']}
    demo = nets['demo']
    assert (demo['driver'], demo['scope'], demo['subnets'][0]['subnet']) == ('overlay', 'global', '10.0.0.0/24')
    assert demo['vni'] is None, 'cluster-store overlays carry no VNI option: the VXLAN device has it'
    assert nets['bridge']['bridge'] == 'docker0' and nets['bridge']['mtu'] == 1500
    swarm = network_view({'Name': 'demo', 'Driver': 'overlay',
                          'Options': {'com.docker.network.driver.overlay.vxlanid_list': '4097'}})
    assert swarm['vni'] == 4097


def test_endpoints_from_inspect():
    c = {'NetworkSettings': {'Networks': {'demo': {'IPAddress': '10.0.0.251', 'IPPrefixLen': 24,
                                                   'MacAddress': '02:42:0a:00:00:fb', 'Gateway': ''}}}}
    assert endpoints(c) == {'demo': {'ip': '10.0.0.251', 'prefixlen': 24, 'mac': '02:42:0a:00:00:fb',
                                     'gateway': None}}


def test_etcd_members_and_health():
    view = parse_etcd(SAMPLES['etcd_member_list'], SAMPLES['etcd_endpoint_health'])
    assert [m['name'] for m in view['members']] == ['docker-node1', 'docker-node2']
    assert all(int(m['id'], 16) > 0 for m in view['members'])
    assert view['members'][0]['peer_urls'] == ['http://192.168.205.10:2380']
    assert [h['health'] for h in view['health']] == [True, True]
    assert parse_etcd(None, None) == {'members': [], 'health': []}


class FakeRunner:
    """Answers the argv the Gatherer runs from the samples; records them."""

    ip = 'ip'

    def __init__(self, answers):
        self.answers, self.calls, self.env = answers, [], {}

    def run(self, argv, data=None, env=None):
        self.calls.append((argv, env))
        for key, (rc, out) in self.answers.items():
            if key in ' '.join(argv):
                return rc, out, '' if rc == 0 else 'failed'
        return 1, '', f'unexpected {argv}'


@pytest.mark.parametrize('name, netid', [
    ('2-2173fe2ce2', '2173fe2ce2'),  # cluster store: the network ID is hex
    ('1-slkriavtw0', 'slkriavtw0'),  # swarm: base 36
])
def test_overlay_namespace_names_of_both_backends(name, netid):
    assert OVERLAY_NS.match(name).group(1) == netid


@pytest.mark.parametrize('name', ['ingress_sbox', 'lb_slkriavtw', '94e944d22424'])
def test_other_docker_namespaces_are_not_overlays(name):
    assert not OVERLAY_NS.match(name)


def test_overlays_from_the_overlay_namespace(monkeypatch):
    runner = FakeRunner({'fdb show dev vxlan0': (0, json.dumps(SAMPLES['fdb']))})
    monkeypatch.setattr('ansible_collections.lab.multihost.plugins.module_utils.lab_topology.which', lambda n: n)
    monkeypatch.setattr('ansible_collections.lab.multihost.plugins.module_utils.netns.docker.which', lambda n: n)
    nets = [network_view(n) for n in SAMPLES['network_inspect']]
    (ov,) = Gatherer(runner=runner).overlays(_docker(), nets)
    assert (ov['network'], ov['vni'], ov['port'], ov['vxlan'], ov['bridge'], ov['mtu']) == (
        'demo', 256, 4789, 'vxlan0', 'br0', 1450)
    assert ov['fdb'][0]['dst'] == '192.168.205.11'
    assert runner.calls[0][0][:2] == ['nsenter', '--net=' + OVERLAY]


@pytest.mark.parametrize('wrapper', [['etcdctl'], ['/usr/local/bin/etcdctl-tls', '--cacert=/etc/ca.pem']])
def test_etcd_command_and_environment_are_options(monkeypatch, wrapper):
    runner = FakeRunner({'member list': (0, json.dumps(SAMPLES['etcd_member_list'])),
                         'endpoint health': (0, json.dumps(SAMPLES['etcd_endpoint_health']))})
    monkeypatch.setattr('ansible_collections.lab.multihost.plugins.module_utils.lab_topology.which', lambda n: n)
    view = Gatherer(runner=runner, etcdctl=wrapper, etcd_env={'ETCDCTL_API': 3},
                    etcd_endpoints=['http://127.0.0.1:2379']).etcd()
    assert view['available'] and view['error'] is None and len(view['members']) == 2
    argv, env = runner.calls[0]
    assert argv[:len(wrapper)] == wrapper and '--endpoints=http://127.0.0.1:2379' in argv
    assert env == {'ETCDCTL_API': '3'}


def test_etcd_missing_or_failing(monkeypatch):
    monkeypatch.setattr('ansible_collections.lab.multihost.plugins.module_utils.lab_topology.which', lambda n: None)
    assert Gatherer(runner=FakeRunner({})).etcd()['available'] is False
    monkeypatch.setattr('ansible_collections.lab.multihost.plugins.module_utils.lab_topology.which', lambda n: n)
    view = Gatherer(runner=FakeRunner({})).etcd()
    assert view['available'] and view['members'] == [] and 'unexpected' in view['error']
