"""Unit tests of the netns engine: ip -j parsing, planning, validation,
batch-failure handling and container peer matching, on captured JSON."""

import json

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.netns import common as netns_common
from ansible_collections.lab.multihost.plugins.module_utils.netns.apply import apply
from ansible_collections.lab.multihost.plugins.module_utils.netns.common import PH_CREATE, NetnsError, Op
from ansible_collections.lab.multihost.plugins.module_utils.netns.docker import describe_container, match_peer
from ansible_collections.lab.multihost.plugins.module_utils.netns.engine import _render
from ansible_collections.lab.multihost.plugins.module_utils.netns.plan import plan
from ansible_collections.lab.multihost.plugins.module_utils.netns.runner import Runner, parse_json
from ansible_collections.lab.multihost.plugins.module_utils.netns.state import parse_links
from ansible_collections.lab.multihost.plugins.module_utils.netns.validate import (
    normalize,
    validate_addresses,
    validate_ifname,
    validate_mtu,
    validate_nsname,
)

# Captured on Debian 12 (iproute2 6.1): `ip -j -d addr show` in a namespace
# holding one end of a veth pair (the peer is in another namespace).
NS_SAMPLE = json.loads('''[
 {"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,
  "operstate":"UNKNOWN","linkinfo":null,
  "addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},
               {"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},
 {"ifindex":2,"link_index":9,"ifname":"veth-test1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],
  "mtu":1500,"operstate":"UP","link_netnsid":0,"linkinfo":{"info_kind":"veth"},
  "addr_info":[{"family":"inet","local":"192.168.1.1","prefixlen":24,"scope":"global"},
               {"family":"inet6","local":"fe80::445d:15ff:fe60:d194","prefixlen":64,"scope":"link"}]}
]''')

BRIDGE_SAMPLE = json.loads('''[
 {"ifindex":5,"ifname":"br-lab","flags":["BROADCAST","MULTICAST","UP"],"mtu":1500,
  "linkinfo":{"info_kind":"bridge","info_data":{"stp_state":1,"forward_delay":1500}},
  "addr_info":[{"family":"inet","local":"10.10.0.254","prefixlen":24,"scope":"global"}]},
 {"ifindex":6,"link_index":2,"ifname":"p1","flags":["BROADCAST","MULTICAST"],"mtu":1500,
  "master":"br-lab","link_netnsid":1,
  "linkinfo":{"info_kind":"veth","info_slave_kind":"bridge"},"addr_info":[]}
]''')


def test_link_view_parses_ip_json():
    links = parse_links(NS_SAMPLE)
    v = links['veth-test1']
    assert v['kind'] == 'veth' and v['peer_ifindex'] == 9 and v['peer_netnsid'] == 0
    assert v['addresses'] == ['192.168.1.1/24'], 'IPv6 link-local must be ignored'
    assert v['up'] is True and v['mtu'] == 1500
    assert links['lo']['addresses'] == ['127.0.0.1/8', '::1/128']
    b = parse_links(BRIDGE_SAMPLE)
    assert b['br-lab']['kind'] == 'bridge' and b['br-lab']['stp'] == 1
    assert b['p1']['master'] == 'br-lab' and b['p1']['up'] is False


def test_parse_json_empty_output():
    assert parse_json('') == [] and parse_json('\n') == []


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize('name', ['eth0', 'veth-test1', 'br_lab.10', 'a' * 15])
def test_valid_ifnames(name):
    assert validate_ifname(name, 'name') == name


@pytest.mark.parametrize('name,rule', [
    ('a' * 16, '15 bytes'), ('ééééééééé', '15 bytes'), ('', 'non-empty'),
    ('a%d', 'no "%"'), ('a b', 'only contain'), ('a/b', 'only contain'),
    ('.', '"." or ".."'), ('..', '"." or ".."'), (None, 'non-empty')])
def test_invalid_ifnames(name, rule):
    with pytest.raises(NetnsError) as err:
        validate_ifname(name, 'peer')
    assert err.value.msg.startswith('peer: ') and rule in err.value.msg


@pytest.mark.parametrize('name,rule', [
    ('', 'non-empty'), ('a/b', '"/"'), ('.', '"." or ".."'), ('..', '"." or ".."'),
    ('a b', 'whitespace')])
def test_invalid_nsnames(name, rule):
    with pytest.raises(NetnsError) as err:
        validate_nsname(name, 'namespace')
    assert err.value.msg.startswith('namespace: ') and rule in err.value.msg


def test_nsname_none_is_host_and_names_allowed():
    assert validate_nsname(None, 'x') is netns_common.HOST
    assert validate_nsname('test1', 'x') == 'test1'


def test_addresses_normalised():
    assert validate_addresses('192.168.1.1/24', 'a') == ['192.168.1.1/24']
    assert validate_addresses(['2001:DB8::1/64', '2001:db8::1/64'], 'a') == ['2001:db8::1/64']
    assert validate_addresses(None, 'a') is None
    assert validate_addresses([], 'a') == []


@pytest.mark.parametrize('value,rule', [
    ('192.168.1.1', 'address/prefix'), ('192.168.1.300/24', 'not a valid CIDR'),
    ('10.0.0.1/33', 'not a valid CIDR'), ('fe80::1/129', 'not a valid CIDR'),
    ({'a': 1}, 'CIDR address or a list')])
def test_invalid_addresses(value, rule):
    with pytest.raises(NetnsError) as err:
        validate_addresses(value, 'peer_address')
    assert err.value.msg.startswith('peer_address: ') and rule in err.value.msg


def test_mtu_rules():
    assert validate_mtu('1450', 'mtu') == 1450
    with pytest.raises(NetnsError, match='below 68'):
        validate_mtu(60, 'mtu')
    with pytest.raises(NetnsError, match='integer'):
        validate_mtu('x', 'mtu')


def test_normalize_adds_used_namespaces_and_rejects_duplicates():
    topo = normalize({'veths': [{'name': 'a', 'peer': 'b', 'namespace': 'n1'}]})
    assert [n['name'] for n in topo['namespaces']] == ['n1']
    assert normalize({'veths': [{'name': 'a', 'peer': 'b', 'namespace': 'n1'}]},
                     auto_namespaces=False)['namespaces'] == []
    with pytest.raises(NetnsError, match='declared twice'):
        normalize({'veths': [{'name': 'a', 'peer': 'b'}, {'name': 'a', 'peer': 'c'}]})


# -------------------------------------------------------------------- planning

class FakeRunner(Runner):
    """Answers `ip -j` reads from a dict {namespace: ip -j -d addr output}."""

    def __init__(self, namespaces, fail=None):
        super().__init__(ip='ip')
        self.ns = namespaces
        self.calls = []
        self.fail = fail or {}

    def run(self, argv, data=None):
        self.calls.append((argv, data))
        key = ' '.join(argv)
        for pattern, (rc, err) in self.fail.items():
            if pattern in key or (data and pattern in data):
                return rc, '', err
        if argv[-3:] == ['netns', 'list'] or argv[-2:] == ['netns', 'list']:
            return 0, json.dumps([{'name': n} for n in self.ns if n is not None]), ''
        if '-j' in argv:
            ns = argv[argv.index('-n') + 1] if '-n' in argv else None
            return 0, json.dumps(self.ns.get(ns, [])), ''
        return 0, '', ''


def _link(ifindex, name, kind=None, peer=None, up=True, addrs=(), master=None):
    entry = {'ifindex': ifindex, 'ifname': name, 'mtu': 1500,
             'flags': ['BROADCAST', 'UP'] if up else ['BROADCAST'],
             'linkinfo': {'info_kind': kind} if kind else None,
             'addr_info': [{'family': 'inet', 'local': a.split('/')[0],
                            'prefixlen': int(a.split('/')[1])} for a in addrs]}
    if peer is not None:
        entry['link_index'] = peer
    if master:
        entry['master'] = master
    return entry


LO_UP = _link(1, 'lo')
PAIR = {'veths': [{'name': 'veth-test1', 'peer': 'veth-test2', 'namespace': 'test1',
                   'peer_namespace': 'test2', 'address': '192.168.1.1/24',
                   'peer_address': '192.168.1.2/24'}]}


def plan_ops(spec, namespaces, check_mode=False):
    p = plan(normalize(spec), FakeRunner(namespaces), check_mode=check_mode)
    return [op.cmdline() for op in p.ops], p


def test_plan_fresh_pair_with_namespaces():
    ops, p = plan_ops(PAIR, {None: [LO_UP]})
    assert ops == [
        'ip netns add test1', 'ip -n test1 link set lo up',
        'ip netns add test2', 'ip -n test2 link set lo up',
        'ip link add veth-test1 netns test1 type veth peer name veth-test2 netns test2',
        'ip -n test1 addr add 192.168.1.1/24 dev veth-test1',
        'ip -n test1 link set veth-test1 up',
        'ip -n test2 addr add 192.168.1.2/24 dev veth-test2',
        'ip -n test2 link set veth-test2 up']
    assert p.before['veth/test1/veth-test1'] == {'present': False}
    assert p.after['veth/test1/veth-test1']['addresses'] == ['192.168.1.1/24']


def test_plan_converged_pair_is_empty():
    state = {None: [LO_UP],
             'test1': [LO_UP, _link(2, 'veth-test1', 'veth', 7, addrs=['192.168.1.1/24'])],
             'test2': [LO_UP, _link(7, 'veth-test2', 'veth', 2, addrs=['192.168.1.2/24'])]}
    ops, p = plan_ops(PAIR, state)
    assert ops == []
    assert _render(p.before) == _render(p.after)


def test_plan_moves_misplaced_end_and_fixes_address_and_link():
    state = {None: [LO_UP, _link(7, 'veth-test2', 'veth', 2, addrs=['10.9.9.9/24'])],
             'test1': [LO_UP, _link(2, 'veth-test1', 'veth', 7, up=False,
                                    addrs=['192.168.1.9/24'])],
             'test2': [LO_UP]}
    ops = plan_ops(PAIR, state)[0]
    move = [o for o in ops if 'netns test2' in o]
    assert move == ['ip link set veth-test2 netns test2']
    assert 'ip -n test1 addr del 192.168.1.9/24 dev veth-test1' in ops
    assert 'ip -n test1 addr add 192.168.1.1/24 dev veth-test1' in ops
    assert 'ip -n test1 link set veth-test1 up' in ops
    # a moved end loses its addresses: re-add, no delete of the old one
    assert 'ip -n test2 addr add 192.168.1.2/24 dev veth-test2' in ops
    assert not [o for o in ops if 'del 10.9.9.9' in o]


def test_plan_rejects_unpaired_ends_and_wrong_kind():
    state = {None: [LO_UP],
             'test1': [LO_UP, _link(2, 'veth-test1', 'veth', 5)],
             'test2': [LO_UP, _link(7, 'veth-test2', 'veth', 3)]}
    with pytest.raises(NetnsError, match='not peers of each other'):
        plan_ops(PAIR, state)
    state = {None: [LO_UP], 'test1': [LO_UP, _link(2, 'veth-test1', 'dummy')], 'test2': [LO_UP]}
    with pytest.raises(NetnsError, match='of kind dummy already exists'):
        plan_ops(PAIR, state)


def test_plan_exact_netns_name_match():
    ops = plan_ops({'namespaces': ['mario']}, {None: [LO_UP], 'mario2': [LO_UP]})[0]
    assert ops[0] == 'ip netns add mario'


def test_plan_absent_finds_pair_anywhere():
    state = {None: [LO_UP], 'elsewhere': [LO_UP, _link(2, 'veth-test1', 'veth', 3)]}
    spec = {'state': 'absent', 'veths': [{'name': 'veth-test1'}]}
    ops = plan_ops(spec, state)[0]
    assert ops == ['ip -n elsewhere link del veth-test1']


def test_plan_bridge_stp_ports_and_missing_namespace():
    state = {None: [LO_UP], 'sw': [LO_UP, _link(3, 'p1', 'veth', 9, up=False)]}
    spec = {'bridges': [{'name': 'br0', 'namespace': 'sw', 'stp': True, 'ports': ['p1']}]}
    ops = plan_ops(spec, state)[0]
    assert ops == ['ip -n sw link add br0 type bridge stp_state 1', 'ip -n sw link set br0 up',
                   'ip -n sw link set p1 master br0', 'ip -n sw link set p1 up']
    topo = normalize({'bridges': [{'name': 'br0', 'namespace': 'nope'}]}, auto_namespaces=False)
    with pytest.raises(NetnsError, match="namespace 'nope' does not exist"):
        plan(topo, FakeRunner({None: [LO_UP]}))
    p = plan(topo, FakeRunner({None: [LO_UP]}), check_mode=True)
    assert p.warnings and p.ops


def test_plan_host_bridge_firewall_rule():
    runner = FakeRunner({None: [LO_UP]}, fail={'-S DOCKER-USER': (1, 'No chain')})
    p = plan(normalize({'bridges': ['br-lab']}), runner, firewall_tool='/usr/sbin/iptables')
    ops = [op.cmdline() for op in p.ops]
    assert ops[-2:] == ['iptables -w -N DOCKER-USER',
                        'iptables -w -I DOCKER-USER -i br-lab -o br-lab -j ACCEPT']
    runner = FakeRunner({None: [LO_UP, _link(4, 'br-lab', 'bridge')]})
    p = plan(normalize({'bridges': ['br-lab']}), runner, firewall_tool='/usr/sbin/iptables')
    assert p.ops == [], 'rule present (iptables -C rc 0): nothing to do'
    p = plan(normalize({'bridges': [{'name': 'br-lab', 'firewall': 'none'}]}),
             FakeRunner({None: [LO_UP]}, fail={'-S DOCKER-USER': (1, '')}),
             firewall_tool='/usr/sbin/iptables')
    assert not [op for op in p.ops if op.tool == 'iptables']


# ------------------------------------------------------------- apply and undo

def test_batch_failure_line_is_named_and_earlier_creates_undone():
    ops, p = plan_ops(PAIR, {None: [LO_UP]})
    err = 'Error: mtu greater than device maximum.\nCommand failed -:2\n'
    runner = FakeRunner({None: [LO_UP]}, fail={'addr add 192.168.1.2/24': (1, err)})
    with pytest.raises(NetnsError) as exc:
        apply(p.ops, runner)
    d = exc.value.details
    assert d['cmd'] == 'ip -n test2 addr add 192.168.1.2/24 dev veth-test2'
    assert d['stderr'] == 'Error: mtu greater than device maximum.'
    # reverse order: test1's address (its batch succeeded), the pair, the namespaces
    assert d['undone'] == ['ip -n test1 addr del 192.168.1.1/24 dev veth-test1',
                           'ip -n test1 link del veth-test1',
                           'ip netns del test2', 'ip netns del test1']


def test_batch_failure_without_line_undoes_whole_batch():
    op1 = Op(PH_CREATE, None, ['link', 'add', 'a', 'type', 'dummy'],
             undo=Op(PH_CREATE, None, ['link', 'del', 'a']))
    op2 = Op(PH_CREATE, None, ['link', 'add', 'b', 'type', 'dummy'],
             undo=Op(PH_CREATE, None, ['link', 'del', 'b']))
    runner = FakeRunner({}, fail={'-batch': (255, 'Error: something odd')})
    with pytest.raises(NetnsError) as exc:
        apply([op1, op2], runner)
    assert exc.value.details['undone'] == ['ip link del b', 'ip link del a']
    batches = [c for c in runner.calls if '-batch' in c[0]]
    assert batches[0][1] == 'link add a type dummy\nlink add b type dummy\n'


def test_apply_groups_one_batch_per_namespace_and_phase():
    p = plan_ops(PAIR, {None: [LO_UP]})[1]
    runner = FakeRunner({})
    apply(p.ops, runner)
    argvs = [' '.join(c[0]) for c in runner.calls]
    assert argvs[0] == 'ip -batch -'                       # netns add x2
    assert 'ip link add veth-test1 netns test1 type veth peer name veth-test2 netns test2' in argvs
    assert sorted(a for a in argvs if a.startswith('ip -n')) == [
        'ip -n test1 -batch -', 'ip -n test2 -batch -']


# ---------------------------------------------------- container peer matching

# Captured shapes: a container's eth0@if23 and the host's vethXXXX@if22, plus
# an overlay container whose eth0 peers a veth inside /var/run/docker/netns/1-abc.
CONTAINER = parse_links(json.loads('''[
 {"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"addr_info":[]},
 {"ifindex":22,"link_index":23,"ifname":"eth0","flags":["UP"],"mtu":1500,"link_netnsid":0,
  "linkinfo":{"info_kind":"veth"},
  "addr_info":[{"family":"inet","local":"172.17.0.2","prefixlen":16}]},
 {"ifindex":30,"link_index":31,"ifname":"eth1","flags":["UP"],"mtu":1450,"link_netnsid":1,
  "linkinfo":{"info_kind":"veth"},
  "addr_info":[{"family":"inet","local":"10.0.1.2","prefixlen":24}]}]'''))
HOST = parse_links(json.loads('''[
 {"ifindex":3,"ifname":"docker0","flags":["UP"],"mtu":1500,"linkinfo":{"info_kind":"bridge"},
  "addr_info":[]},
 {"ifindex":22,"link_index":5,"ifname":"vethdecoy","flags":["UP"],"mtu":1500,
  "linkinfo":{"info_kind":"veth"},"addr_info":[]},
 {"ifindex":23,"link_index":22,"ifname":"vethb975913","flags":["UP"],"mtu":1500,
  "master":"docker0","link_netnsid":2,"linkinfo":{"info_kind":"veth"},"addr_info":[]}]'''))
OVERLAY = parse_links(json.loads('''[
 {"ifindex":2,"ifname":"br0","flags":["UP"],"mtu":1450,"linkinfo":{"info_kind":"bridge"},
  "addr_info":[]},
 {"ifindex":31,"link_index":30,"ifname":"veth0","flags":["UP"],"mtu":1450,"master":"br0",
  "linkinfo":{"info_kind":"veth"},"addr_info":[]}]'''))


def test_match_peer_host_veth_by_both_indexes():
    where, peer = match_peer(CONTAINER['eth0'], [('host', HOST)])
    assert where == 'host' and peer['name'] == 'vethb975913' and peer['master'] == 'docker0'
    assert match_peer(CONTAINER['lo'], [('host', HOST)]) == (None, None)


def test_describe_container_host_and_overlay_peers():
    c = {'Id': 'abc', 'Name': '/web', 'State': {'Pid': 42, 'Running': True},
         'NetworkSettings': {'SandboxKey': '/var/run/docker/netns/c0ffee',
                             'Networks': {'bridge': {'NetworkID': 'n1'},
                                          'ov': {'NetworkID': 'abcdef123456'}}}}
    out = describe_container(c, CONTAINER, HOST, [('/var/run/docker/netns/1-abcdef1234', OVERLAY)],
                             {'n1': 'bridge', 'abcdef123456': 'ov'})
    assert out['name'] == 'web' and out['pid'] == 42
    eth0, eth1 = out['interfaces'][1], out['interfaces'][2]
    assert eth0['peer'] == {'name': 'vethb975913', 'ifindex': 23, 'bridge': 'docker0',
                            'namespace': 'host'}
    assert eth0['addresses'] == ['172.17.0.2/16'] and eth1['mtu'] == 1450
    assert eth1['peer']['namespace'] == '/var/run/docker/netns/1-abcdef1234'
    assert eth1['peer']['namespace_kind'] == 'overlay' and eth1['peer']['network'] == 'ov'
    assert eth1['peer']['bridge'] == 'br0' and eth1['peer']['name'] == 'veth0'
