"""Unit tests of the impairment engine: validation, the netem and queue plans
as exact argv, the parsers on output captured from a namespace of this
machine kind (fixtures/impair/README.md), and converge/read on a fake node
(a temporary directory for the files, a fake runner answering with the
fixtures, fake listener processes)."""

import json
import pathlib

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.impair import engine
from ansible_collections.lab.multihost.plugins.module_utils.impair.node import LISTENER, PKG, Node
from ansible_collections.lab.multihost.plugins.module_utils.impair.plan import Desired, tc_tree
from ansible_collections.lab.multihost.plugins.module_utils.impair.state import (
    parse_classes,
    parse_filters,
    parse_mangle,
    parse_nfqueue,
    parse_qdiscs,
)
from ansible_collections.lab.multihost.plugins.module_utils.impair.validate import (
    ImpairError,
    chain_of,
    describe,
    normalize,
)

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'impair'
NS, IF, KEY = 'zsr', 'rb', 'zsr-rb'
# The spec of the converged_* fixtures.
CONVERGED = {'namespace': NS, 'interface': IF, 'delay': '50ms', 'loss': '1%', 'rate': '10mbit',
             'match': {'destinations': ['10.78.2.1', '10.78.3.0/24'], 'protocol': 'udp', 'port': 4789}}
FILES = {'impair/engine.py': '# the engine\n'}  # stands for the engine copy's sources
PY = 'python3'


def _text(name):
    return (FIXTURES / name).read_text()


# ------------------------------------------------------------ validation

def test_normalize_units_and_canonical_text():
    spec = normalize({'interface': 'eth0', 'delay': '0.5s', 'jitter': '200us', 'loss': '0.5',
                      'duplicate': '1%', 'rate': '1.5mbit'})
    assert (spec['delay_us'], spec['jitter_us'], spec['loss'], spec['duplicate'], spec['rate_bit']) == (
        500000, 200, 0.5, 1.0, 1500000)
    assert spec['key'] == 'host-eth0' and spec['namespace'] is None and spec['backend'] == 'auto'
    d = describe(spec)
    shown = (d['delay'], d['jitter'], d['loss'], d['duplicate'], d['rate'])
    assert shown == ('500ms', '200us', '0.5%', '1%', '1500kbit')
    assert normalize({'interface': 'eth0', 'delay': '2s', 'match': {}})['match'] is None


def test_match_is_normalized():
    m = normalize({'interface': 'eth0', 'delay': '1ms', 'match': {
        'destinations': ['10.0.0.9/24', '10.0.0.2', '10.0.0.2'], 'protocol': 'udp', 'port': '4789'}})['match']
    assert m == {'destinations': ['10.0.0.0/24', '10.0.0.2/32'], 'protocol': 'udp', 'port': 4789}


BAD = [
    ({'loss': '101'}, 'loss', 'from 0 to 100'),
    ({'loss': '-1'}, 'loss', 'from 0 to 100'),
    ({'duplicate': '100.5%'}, 'duplicate', 'from 0 to 100'),
    ({'loss': 'much'}, 'loss', 'not a percentage'),
    ({'delay': '50'}, 'delay', 'needs a unit: us, ms or s'),
    ({'delay': 'soon'}, 'delay', 'not a time'),
    ({'delay': '-5ms'}, 'delay', 'not a time'),
    ({'delay': '5ms', 'jitter': '2'}, 'jitter', 'needs a unit'),
    ({'rate': '10'}, 'rate', 'needs a unit: kbit, mbit or gbit'),
    ({'rate': '10mb'}, 'rate', 'not a rate'),
    ({'rate': '1kbit'}, 'rate', 'at least 8kbit'),
    ({'jitter': '10ms'}, 'jitter', 'needs delay'),
    ({}, 'state', 'at least one of delay, loss, duplicate or rate'),
    ({'delay': '1ms', 'interface': 'a' * 16}, 'interface', 'longer than 15'),
    ({'delay': '1ms', 'interface': 'eth 0'}, 'interface', '[A-Za-z0-9_.-]'),
    ({'delay': '1ms', 'namespace': '../x'}, 'namespace', '[A-Za-z0-9_.-]'),
    ({'delay': '1ms', 'backend': 'tc'}, 'backend', 'auto, netem or queue'),
    ({'delay': '1ms', 'state': 'gone'}, 'state', '"present" or "absent"'),
    ({'delay': '1ms', 'match': {'port': 53}}, 'match.port', 'needs match.protocol udp or tcp'),
    ({'delay': '1ms', 'match': {'protocol': 'icmp', 'port': 53}}, 'match.port', 'needs match.protocol'),
    ({'delay': '1ms', 'match': {'protocol': 'udp', 'port': 70000}}, 'match.port', '1 to 65535'),
    ({'delay': '1ms', 'match': {'destinations': ['10.0.0.300']}}, 'match.destinations', 'not an IPv4'),
    ({'delay': '1ms', 'match': {'destinations': ['fd00::1']}}, 'match.destinations', 'not an IPv4'),
    ({'delay': '1ms', 'match': {'protocol': 'sctp'}}, 'match.protocol', 'udp, tcp or icmp'),
]


@pytest.mark.parametrize('options,option,rule', BAD)
def test_each_bad_input_names_its_option(options, option, rule):
    with pytest.raises(ImpairError) as err:
        normalize(dict({'interface': 'eth0'}, **options))
    assert err.value.msg.startswith(option + ':'), err.value.msg
    assert rule in err.value.msg, err.value.msg


def test_absent_needs_no_setting_and_keys_and_chains_are_short():
    assert normalize({'interface': 'eth0', 'state': 'absent'})['key'] == 'host-eth0'
    assert chain_of('host-eth0') == 'LABIMP-host-eth0'
    long = chain_of('a-very-long-namespace-name-veth0')
    assert len(long) <= 28 and long.startswith('LABIMP-') and long == chain_of('a-very-long-namespace-name-veth0')


# ---------------------------------------------------------------- parsers

def test_parse_qdiscs_default_tbf_htb():
    assert parse_qdiscs(json.loads(_text('noqueue_root.json'))) == ({'kind': 'noqueue', 'handle': '0:'}, {})
    root, ours = parse_qdiscs(json.loads(_text('tbf_root.json')))
    assert root == {'kind': 'tbf', 'handle': '4c41:'}
    assert ours == {'4c41:': {'kind': 'tbf', 'parent': 'root', 'rate_bit': 10000000}}
    assert parse_qdiscs(json.loads(_text('htb_root.json')))[1] == {'4c41:': {'kind': 'htb', 'parent': 'root'}}


def test_parse_netem_tree():
    root, ours = parse_qdiscs(json.loads(_text('netem_match.synthetic.json')))
    assert root == {'kind': 'prio', 'handle': '4c41:'}
    assert ours == {
        '4c41:': {'kind': 'prio', 'parent': 'root', 'bands': 4},
        '4c42:': {'kind': 'netem', 'parent': '4c41:4', 'delay_us': 50000, 'jitter_us': 10000, 'loss': 1.0,
                  'duplicate': 0.5},
        '4c43:': {'kind': 'tbf', 'parent': '4c42:1', 'rate_bit': 10000000},
    }


def test_parse_htb_class_and_u32_filters():
    assert parse_classes(_text('htb_class.txt')) == {
        '4c41:1': {'parent': 'root', 'rate_bit': 10000000, 'ceil_bit': 10000000}}
    assert parse_filters(_text('u32_filters.txt')) == [
        ('4c41:1', ((0x12b5, 0xffff, 20), (0x00110000, 0x00ff0000, 8), (0x0a4d0002, 0xffffffff, 16))),
        ('4c41:1', ((0x00010000, 0x00ff0000, 8), (0x0a4d0000, 0xffffff00, 16))),
    ]


def test_parse_mangle_rules_and_counters():
    chains, rules = parse_mangle(_text('iptables_mangle.txt'))
    assert chains == {'LABIMP-capA-cva'}
    assert rules['POSTROUTING'] == [('-A POSTROUTING -o cva -j LABIMP-capA-cva', 5, 145)]
    assert rules['LABIMP-capA-cva'][1] == (
        '-A LABIMP-capA-cva -d 10.77.0.2/32 -p udp -m udp --dport 4789 -j NFQUEUE --queue-num 100 --queue-bypass',
        5, 145)
    assert len(rules['LABIMP-capA-cva']) == 3


def test_parse_nfnetlink_queue():
    assert parse_nfqueue(_text('nfnetlink_queue.txt')) == {
        100: {'portid': 19016, 'length': 7, 'kernel_dropped': 0, 'user_dropped': 0}}
    assert parse_nfqueue('') == {}


# ------------------------------------------------------------------ plans

def _spec(**options):
    return normalize(dict({'interface': 'veth0', 'namespace': 'ns1'}, **options))


def _build(spec, backend):
    """The tc commands that build a tree from nothing."""
    from ansible_collections.lab.multihost.plugins.module_utils.impair.plan import build_ops
    tree = tc_tree(spec, backend)
    return [' '.join(a) for a in build_ops(
        'ns1', 'veth0', {q['handle']: q['view'] for q in tree['qdiscs']},
        {c['classid']: c['view'] for c in tree['classes']}, [(f['flowid'], f['args']) for f in tree['filters']])]


def test_netem_plan_all_traffic():
    assert _build(_spec(delay='50ms', jitter='10ms', loss='1%', duplicate='0.5%'), 'netem') == [
        'tc -n ns1 qdisc add dev veth0 root handle 4c41: netem delay 50ms 10ms loss 1% duplicate 0.5%']


def test_netem_plan_for_a_match():
    spec = _spec(delay='50ms', match={'destinations': ['10.0.0.2', '10.1.0.0/16'], 'protocol': 'udp', 'port': 4789})
    assert _build(spec, 'netem') == [
        'tc -n ns1 qdisc add dev veth0 root handle 4c41: prio bands 4',
        'tc -n ns1 qdisc add dev veth0 parent 4c41:4 handle 4c42: netem delay 50ms',
        'tc -n ns1 filter add dev veth0 parent 4c41: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 '
        'match ip protocol 17 0xff match ip dport 4789 0xffff flowid 4c41:4',
        'tc -n ns1 filter add dev veth0 parent 4c41: protocol ip prio 1 u32 match ip dst 10.1.0.0/16 '
        'match ip protocol 17 0xff match ip dport 4789 0xffff flowid 4c41:4',
    ]


def test_netem_plan_rate_is_a_tbf_under_netem():
    assert _build(_spec(loss='2%', rate='10mbit'), 'netem') == [
        'tc -n ns1 qdisc add dev veth0 root handle 4c41: netem loss 2%',
        'tc -n ns1 qdisc add dev veth0 parent 4c41:1 handle 4c43: tbf rate 10mbit burst 12500 latency 50ms']
    spec = _spec(delay='5ms', rate='1gbit', match={'protocol': 'icmp'})
    assert _build(spec, 'netem') == [
        'tc -n ns1 qdisc add dev veth0 root handle 4c41: prio bands 4',
        'tc -n ns1 qdisc add dev veth0 parent 4c41:4 handle 4c42: netem delay 5ms',
        'tc -n ns1 qdisc add dev veth0 parent 4c42:1 handle 4c43: tbf rate 1gbit burst 1250000 latency 50ms',
        'tc -n ns1 filter add dev veth0 parent 4c41: protocol ip prio 1 u32 match ip protocol 1 0xff flowid 4c41:4']


def test_a_netem_tree_as_read_is_what_was_planned():
    spec = _spec(delay='50ms', jitter='10ms', loss='1%', duplicate='0.5%', rate='10mbit',
                 match={'destinations': ['10.0.0.2']})
    tree = tc_tree(spec, 'netem')
    assert {q['handle']: q['view'] for q in tree['qdiscs']} == parse_qdiscs(
        json.loads(_text('netem_match.synthetic.json')))[1]


def test_queue_plan_rules_and_rate():
    spec = _spec(delay='50ms', rate='10mbit', match={'destinations': ['10.0.0.2'], 'protocol': 'udp', 'port': 4789})
    d = Desired(spec, 'queue', 101)
    assert d.rules() == [
        '-A LABIMP-ns1-veth0 -m mark --mark 0x4c41 -j RETURN',
        '-A LABIMP-ns1-veth0 -d 10.0.0.2/32 -p udp -m udp --dport 4789 -j NFQUEUE --queue-num 101 --queue-bypass']
    assert json.loads(d.conf()) == {'queue': 101, 'delay_us': 50000, 'jitter_us': 0, 'loss': 0.0,
                                    'duplicate': 0.0, 'mark': 0x4c41, 'maxlen': 8192}
    assert _build(spec, 'queue') == [
        'tc -n ns1 qdisc add dev veth0 root handle 4c41: htb',
        'tc -n ns1 class add dev veth0 parent 4c41: classid 4c41:1 htb rate 10mbit ceil 10mbit burst 12500',
        'tc -n ns1 filter add dev veth0 parent 4c41: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 '
        'match ip protocol 17 0xff match ip dport 4789 0xffff flowid 4c41:1']
    assert _build(_spec(delay='1ms', rate='64kbit'), 'queue') == [
        'tc -n ns1 qdisc add dev veth0 root handle 4c41: tbf rate 64kbit burst 3200 latency 50ms']
    assert Desired(_spec(rate='1mbit'), 'queue', 100).rules() == [], 'a rate alone needs no listener'
    assert Desired(_spec(delay='1ms'), 'queue', 100).rules()[1] == \
        '-A LABIMP-ns1-veth0 -j NFQUEUE --queue-num 100 --queue-bypass'


# ------------------------------------------------------------ fake node

class FakeRunner:
    """Answers commands from a table (' '.join(argv) -> text or (rc, out, err)); 0 and '' otherwise."""

    def __init__(self, answers, fail=None):
        self.answers, self.fail, self.calls = answers, fail, []

    def run(self, argv, data=None, env=None):
        line = ' '.join(argv)
        self.calls.append(line)
        if self.fail and self.fail(line):
            return 1, '', 'injected failure'
        a = self.answers.get(line, '')
        a = a(line) if callable(a) else a
        return a if isinstance(a, tuple) else (0, a, '')


class FakeNode(Node):
    """Files under tmp; listeners are entries in ``procs`` (pid -> argv)."""

    def __init__(self, tmp, answers, systemd=False, netem=False, fail=None):
        super().__init__(FakeRunner(answers, fail), root=str(tmp), systemd=systemd, python=PY)
        self._netem = netem
        self.procs, self.spawned, self.killed = {}, [], []

    def tool(self, name):
        return name

    def process(self, pid):
        return {'state': 'S', 'cmdline': self.procs[pid]} if pid in self.procs else None

    def spawn(self, argv, log):
        pid = 5000 + len(self.spawned)
        self.spawned.append(argv)
        self.procs[pid] = argv
        self.write(argv[argv.index('--pidfile') + 1], f'{pid}\n')
        return pid

    def exited(self, pid):
        return False

    def kill_wait(self, pid, timeout=5.0):
        self.killed.append(pid)
        self.procs.pop(pid, None)
        return True

    def sleep(self, seconds):
        pass

    def refresh_stats(self, pid, stats, timeout=0.5):
        return None

    def tree(self):
        """{path: content} of every file under the root."""
        root = pathlib.Path(self.root)
        return {'/' + str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob('*')) if p.is_file()}


def _listener_argv(key=KEY, ns=NS):
    return (['ip', 'netns', 'exec', ns] if ns else []) + [
        PY, LISTENER, '--config', f'/run/lab-impair/{key}.conf', '--pidfile', f'/run/lab-impair/{key}.pid',
        '--stats', f'/run/lab-impair/{key}.stats']


def _answers(mangle='converged_mangle.txt', nfqueue='converged_nfqueue.txt'):
    return {
        'ip -j netns list': '[{"name":"zsr","id":0},{"name":"other","id":1}]',
        f'ip -n {NS} -j link show dev {IF}': _text('converged_link.json'),
        f'tc -n {NS} -j qdisc show dev {IF}': _text('converged_qdisc.json'),
        f'tc -n {NS} class show dev {IF}': _text('converged_class.txt'),
        f'tc -n {NS} filter show dev {IF} parent 4c41:': _text('converged_filter.txt'),
        f'ip netns exec {NS} iptables -w -t mangle -v -S': _text(mangle),
        f'ip netns exec {NS} cat /proc/net/netfilter/nfnetlink_queue': _text(nfqueue),
    }


def _converged_node(tmp_path, **kw):
    """The node as the converged_* fixtures were captured: record, config, stats, listener 23518."""
    node = FakeNode(tmp_path, _answers(**kw))
    node.write(f'/etc/lab/impair/{KEY}.json', _text('converged_record.json'))
    node.write(f'/run/lab-impair/{KEY}.conf', _text('converged_conf.json'))
    node.write(f'/run/lab-impair/{KEY}.stats', _text('converged_stats.json'))
    node.write(f'/run/lab-impair/{KEY}.pid', '23518\n')
    node.write(f'{PKG}/impair/engine.py', FILES['impair/engine.py'])
    node.procs[23518] = _listener_argv()
    return node


def _reads(node):
    return [c for c in node.runner.calls if ' -A ' not in c and ' add ' not in c]


def test_converged_is_no_operation(tmp_path):
    node = _converged_node(tmp_path)
    before = node.tree()
    r = engine.converge(CONVERGED, node=node, files=FILES)
    assert r['changed'] is False and r['operations'] == [] and r['backend'] == 'queue'
    assert r['diff']['before'] == r['diff']['after']
    imp = r['impairment']
    assert imp['in_force'] is True and imp['problems'] == []
    assert imp['listener'] == {'pid': 23518, 'running': True, 'received': 12, 'dropped': 1, 'duplicated': 0,
                               'held': 0}
    assert imp['queue'] == {'number': 100, 'length': 0, 'kernel_dropped': 0, 'user_dropped': 0}
    assert imp['fail_open_packets'] == 0
    assert (imp['delay'], imp['loss'], imp['rate'], imp['key']) == ('50ms', '1%', '10mbit', KEY)
    assert node.tree() == before and not node.spawned and not node.killed


def test_a_changed_delay_is_the_minimal_operations(tmp_path):
    node = _converged_node(tmp_path)
    r = engine.converge(dict(CONVERGED, delay='80ms'), node=node, files=FILES)
    assert r['operations'] == [
        'write /etc/lab/impair/zsr-rb.json',
        'kill -TERM 23518 (listener zsr-rb)',
        'write /run/lab-impair/zsr-rb.conf',
        ' '.join(_listener_argv()),
    ]
    assert node.killed == [23518] and node.spawned == [_listener_argv()]
    assert json.loads(node.read(f'/run/lab-impair/{KEY}.conf'))['delay_us'] == 80000
    assert json.loads(node.read(f'/etc/lab/impair/{KEY}.json'))['delay'] == '80ms'
    assert not [c for c in node.runner.calls if 'iptables' in c and ' -v -S' not in c], 'the rules stay'


def test_a_changed_rate_is_one_tc_change(tmp_path):
    node = _converged_node(tmp_path)
    r = engine.converge(dict(CONVERGED, rate='20mbit'), node=node, files=FILES, check_mode=True)
    assert r['operations'] == [
        'write /etc/lab/impair/zsr-rb.json',
        'tc -n zsr class change dev rb parent 4c41: classid 4c41:1 htb rate 20mbit ceil 20mbit burst 25000']


def test_check_mode_writes_nothing_and_names_the_commands(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': _text('noqueue_root.json'),
        f'ip netns exec {NS} iptables -w -t mangle -v -S': '-P POSTROUTING ACCEPT -c 0 0\n'}))
    r = engine.converge(dict(CONVERGED, match=None, rate=None), node=node, files=FILES, check_mode=True)
    assert r['changed'] is True and r['impairment'] is None
    assert r['operations'] == [
        'install /usr/local/lib/lab-multihost/impair (1 files)',
        'write /etc/lab/impair/zsr-rb.json',
        'write /run/lab-impair/zsr-rb.conf',
        'ip netns exec zsr iptables -w -t mangle -N LABIMP-zsr-rb',
        'ip netns exec zsr iptables -w -t mangle -A LABIMP-zsr-rb -m mark --mark 0x4c41 -j RETURN',
        'ip netns exec zsr iptables -w -t mangle -A LABIMP-zsr-rb -j NFQUEUE --queue-num 100 --queue-bypass',
        ' '.join(_listener_argv()),
        'ip netns exec zsr iptables -w -t mangle -A POSTROUTING -o rb -j LABIMP-zsr-rb',
    ]
    assert all(f'  $ {op}' in r['diff']['after'] for op in r['operations'])
    assert r['diff']['before'] == 'zsr-rb: none\n'
    assert node.tree() == {} and not node.spawned
    assert _reads(node) == node.runner.calls, 'check mode only reads'


def test_systemd_node_installs_units_and_starts_the_instance(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': _text('noqueue_root.json'),
        f'ip netns exec {NS} iptables -w -t mangle -v -S': ''}), systemd=True)
    r = engine.converge({'namespace': NS, 'interface': IF, 'loss': '5%'}, node=node, files=FILES,
                        check_mode=True)
    ops = r['operations']
    assert ops[:5] == ['install /usr/local/lib/lab-multihost/impair (1 files)',
                       'write /etc/systemd/system/lab-impair.service',
                       'write /etc/systemd/system/lab-impair-listener@.service',
                       'systemctl daemon-reload', 'systemctl enable lab-impair.service']
    assert 'systemctl start --no-block lab-impair-listener@zsr-rb.service' in ops


def test_systemd_node_applies_and_clears_through_the_units(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': _text('noqueue_root.json'),
        f'ip netns exec {NS} iptables -w -t mangle -v -S': ''}), systemd=True)

    def unit_starts(line):  # systemd runs the listener: it writes its pidfile
        node.procs[777] = _listener_argv()
        node.write(f'/run/lab-impair/{KEY}.pid', '777\n')
        return 0, '', ''

    node.runner.answers[f'systemctl start --no-block lab-impair-listener@{KEY}.service'] = unit_starts
    engine.converge({'namespace': NS, 'interface': IF, 'loss': '5%'}, node=node, files=FILES)
    assert 'ExecStart=/usr/bin/python3 -m ansible_collections.lab.multihost.plugins.module_utils.impair.engine ' \
           '--listen %i' in node.read('/etc/systemd/system/lab-impair-listener@.service')
    assert 'systemctl enable lab-impair.service' in node.runner.calls and not node.spawned
    node.procs.clear()  # the listener died; its unit may be restarting it
    node.write('/etc/systemd/system/multi-user.target.wants/lab-impair.service', '')
    r = engine.converge({'namespace': NS, 'interface': IF, 'state': 'absent'}, node=node, files=FILES)
    assert r['operations'][0] == f'systemctl stop lab-impair-listener@{KEY}.service'
    assert r['operations'][-6:] == [
        'systemctl disable lab-impair.service', 'remove /etc/systemd/system/lab-impair.service',
        'remove /etc/systemd/system/lab-impair-listener@.service', 'systemctl daemon-reload',
        'remove /usr/local/lib/lab-multihost/impair', 'remove /run/lab-impair']


def test_absent_removes_only_ours(tmp_path):
    foreign = '-A POSTROUTING -o rb -p tcp -c 3 180 -j MARK --set-xmark 0x1/0xffffffff\n'
    node = _converged_node(tmp_path)
    node.runner.answers[f'ip netns exec {NS} iptables -w -t mangle -v -S'] += foreign
    node.write('/etc/lab/netns-lab.json', '[]\n')  # another role's file in /etc/lab
    r = engine.converge({'namespace': NS, 'interface': IF, 'state': 'absent'}, node=node, files=FILES)
    assert r['operations'] == [
        'ip netns exec zsr iptables -w -t mangle -D POSTROUTING -o rb -j LABIMP-zsr-rb',
        'kill -TERM 23518 (listener zsr-rb)',
        'ip netns exec zsr iptables -w -t mangle -F LABIMP-zsr-rb',
        'ip netns exec zsr iptables -w -t mangle -X LABIMP-zsr-rb',
        'remove /run/lab-impair/zsr-rb.conf',
        'remove /run/lab-impair/zsr-rb.stats',
        'tc -n zsr qdisc del dev rb root',
        'remove /etc/lab/impair/zsr-rb.json',
        'remove /usr/local/lib/lab-multihost/impair',
        'remove /run/lab-impair',
    ]
    assert r['changed'] is True and r['impairment'] is None
    assert node.tree() == {'/etc/lab/netns-lab.json': '[]\n'}, 'nothing of ours stays, the rest does'
    assert not any('MARK' in c for c in node.runner.calls)


def test_absent_with_another_record_keeps_the_engine(tmp_path):
    node = _converged_node(tmp_path)
    node.write('/etc/lab/impair/host-eth1.json', json.dumps({'interface': 'eth1', 'queue': 101}))
    r = engine.converge({'namespace': NS, 'interface': IF, 'state': 'absent'}, node=node, files=FILES,
                        check_mode=True)
    assert r['operations'][-1] == 'remove /etc/lab/impair/zsr-rb.json'


def test_absent_of_nothing_is_no_operation(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': _text('noqueue_root.json'),
        f'ip netns exec {NS} iptables -w -t mangle -v -S': _text('iptables_mangle.txt')}))
    r = engine.converge({'namespace': NS, 'interface': IF, 'state': 'absent'}, node=node, files=FILES)
    assert r == {'changed': False, 'backend': None, 'operations': [], 'impairment': None, 'warnings': [],
                 'diff': {'before': 'zsr-rb: none\n', 'after': 'zsr-rb: none\n'}}


def test_killed_listener_reads_as_not_in_force_with_the_fail_open_count(tmp_path):
    node = _converged_node(tmp_path, mangle='killed_mangle.txt', nfqueue='killed_nfqueue.txt')
    node.procs.clear()
    [imp] = engine.read_all(node=node)
    assert imp['in_force'] is False
    assert imp['problems'] == ['listener not running: packets pass undelayed']
    assert imp['fail_open_packets'] == 17 - 12
    assert imp['listener']['running'] is False and imp['listener']['pid'] is None
    assert imp['queue'] == {'number': 100, 'length': None, 'kernel_dropped': None, 'user_dropped': None}
    # converge starts it again; the stale pidfile goes first
    r = engine.converge(CONVERGED, node=node, files=FILES)
    assert r['operations'] == [' '.join(_listener_argv())]


def test_missing_namespace_and_interface_name_the_option(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{f'ip -n {NS} -j link show dev {IF}': (1, '', 'no device')}))
    with pytest.raises(ImpairError) as err:
        engine.converge(CONVERGED, node=node, files=FILES)
    assert err.value.msg.startswith('interface: ')
    with pytest.raises(ImpairError) as err:
        engine.converge(dict(CONVERGED, namespace='nope'), node=node, files=FILES)
    assert err.value.msg.startswith('namespace: ')
    assert node.tree() == {}


def test_queue_backend_needs_iptables(tmp_path):
    class NoIptables(FakeNode):
        def tool(self, name):
            return None if name == 'iptables' else name

    node = NoIptables(tmp_path, _answers())
    with pytest.raises(ImpairError) as err:
        engine.converge(CONVERGED, node=node, files=FILES)
    assert err.value.msg == 'backend: the queue backend needs iptables on the node (package iptables)'


def test_netem_where_the_kernel_has_it(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': _text('noqueue_root.json'),
        f'ip netns exec {NS} iptables -w -t mangle -v -S': ''}), netem=True)
    r = engine.converge({'namespace': NS, 'interface': IF, 'delay': '50ms', 'jitter': '10ms'}, node=node,
                        files=FILES)
    assert r['backend'] == 'netem'
    assert r['operations'] == ['install /usr/local/lib/lab-multihost/impair (1 files)',
                               'write /etc/lab/impair/zsr-rb.json',
                               'tc -n zsr qdisc add dev rb root handle 4c41: netem delay 50ms 10ms']
    with pytest.raises(ImpairError) as err:
        engine.converge({'namespace': NS, 'interface': IF, 'delay': '5ms', 'backend': 'netem'},
                        node=FakeNode(tmp_path / 'x', _answers()), files=FILES)
    assert err.value.msg.startswith('backend: this kernel has no sch_netem')


def test_a_foreign_root_qdisc_is_refused(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': '[{"kind":"htb","handle":"1:","root":true,"options":{}}]'}))
    with pytest.raises(ImpairError) as err:
        engine.converge(dict(CONVERGED, delay=None, loss=None), node=node, files=FILES)
    assert err.value.msg.startswith('interface: tc: rb holds a root qdisc') and '(htb 1:)' in err.value.msg


def test_a_failure_midway_undoes_what_ran(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': _text('noqueue_root.json'),
        f'ip netns exec {NS} iptables -w -t mangle -v -S': ''}),
        fail=lambda line: line.startswith('tc ') and ' add ' in line and 'class' in line)
    with pytest.raises(ImpairError) as err:
        engine.converge(CONVERGED, node=node, files=FILES)
    e = err.value
    assert e.msg.startswith('tc -n zsr class add dev rb parent 4c41: classid 4c41:1 htb rate 10mbit')
    assert e.details['stderr'] == 'injected failure'
    assert e.details['undone'] == [
        'tc -n zsr qdisc del dev rb root',
        'ip netns exec zsr iptables -w -t mangle -D POSTROUTING -o rb -j LABIMP-zsr-rb',
        'kill -TERM <pid> (listener zsr-rb)',
        'remove /run/lab-impair/zsr-rb.stats',
        'remove /run/lab-impair/zsr-rb.log',
        'ip netns exec zsr iptables -w -t mangle -D LABIMP-zsr-rb -d 10.78.3.0/24 -p udp -m udp --dport 4789 '
        '-j NFQUEUE --queue-num 100 --queue-bypass',
        'ip netns exec zsr iptables -w -t mangle -D LABIMP-zsr-rb -d 10.78.2.1/32 -p udp -m udp --dport 4789 '
        '-j NFQUEUE --queue-num 100 --queue-bypass',
        'ip netns exec zsr iptables -w -t mangle -D LABIMP-zsr-rb -m mark --mark 0x4c41 -j RETURN',
        'ip netns exec zsr iptables -w -t mangle -X LABIMP-zsr-rb',
        'remove /run/lab-impair/zsr-rb.conf',
        'remove /etc/lab/impair/zsr-rb.json',
        'remove /usr/local/lib/lab-multihost/impair',
    ]
    assert node.tree() == {} and node.killed == [5000]


def test_queue_numbers_are_the_lowest_free(tmp_path):
    node = FakeNode(tmp_path, dict(_answers(), **{
        f'tc -n {NS} -j qdisc show dev {IF}': _text('noqueue_root.json')}))
    node.write('/etc/lab/impair/a-x.json', json.dumps({'interface': 'x', 'namespace': 'a', 'queue': 100}))
    node.write('/etc/lab/impair/b-x.json', json.dumps({'interface': 'x', 'namespace': 'b', 'queue': 102}))
    r = engine.converge(dict(CONVERGED, match=None, rate=None), node=node, files=FILES, check_mode=True)
    assert '--queue-num 101' in ' '.join(r['operations'])


def test_engine_files_are_the_package_and_its_imports():
    files = engine.engine_files()
    assert sorted(files) == ['impair/__init__.py', 'impair/apply.py', 'impair/engine.py', 'impair/listener.py',
                             'impair/node.py', 'impair/plan.py', 'impair/state.py', 'impair/validate.py',
                             'netns/common.py', 'netns/runner.py']
    assert 'def converge' in files['impair/engine.py']


def test_main_usage():
    class Out:
        text = ''

        def write(self, s):
            Out.text += s

    assert engine.main(['--nope'], out=Out(), err=Out()) == 2 and 'usage:' in Out.text


def test_restore_converges_every_record(tmp_path):
    class Out:
        def __init__(self):
            self.text = ''

        def write(self, s):
            self.text += s

    node = _converged_node(tmp_path, mangle='killed_mangle.txt', nfqueue='killed_nfqueue.txt')
    node.procs.clear()  # after a boot: no listener
    node.write('/etc/lab/impair/gone-eth0.json', json.dumps(
        {'interface': 'eth0', 'namespace': 'gone', 'delay': '5ms', 'backend': 'queue', 'queue': 101}))
    out = Out()
    assert engine.restore(node=node, out=out, files=FILES) == 1
    assert out.text.splitlines() == ["lab-impair: gone-eth0: namespace: no network namespace 'gone' (ip netns list)",
                                     'lab-impair: zsr-rb: 1 operations']
    assert node.spawned == [_listener_argv()]


def test_listen_execs_the_listener_of_a_record(tmp_path, monkeypatch):
    node = _converged_node(tmp_path)
    node.remove(f'/run/lab-impair/{KEY}.conf')
    ran = []
    monkeypatch.setattr(engine.os, 'execv', lambda path, argv: ran.append(argv))
    engine.listen(KEY, node=node)
    assert ran == [_listener_argv()]
    assert node.read(f'/run/lab-impair/{KEY}.conf') == _text('converged_conf.json')
    with pytest.raises(ImpairError):
        engine.listen('host-nope', node=node)
