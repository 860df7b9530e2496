"""lab.multihost.impair on real namespaces, as root, in seconds: the queue
backend for real (iptables NFQUEUE and the listener; this kernel has no
sch_netem), through Ansible (labkit.run_module) and, where a failure is
injected, through the engine's Python API.

Three namespaces a - r - b, r forwarding: the impairment sits on r's link to b
for UDP to b's echo port, so the probe's packets come from another namespace
(as a container's do) and only the a -> b direction is impaired. The module
really installs the engine copy and writes /etc/lab/impair and
/run/lab-impair; every test leaves the host as it found it (checked)."""

import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import time

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.impair import engine
from ansible_collections.lab.multihost.plugins.module_utils.impair.node import ETC, LIB, RUN, Node
from ansible_collections.lab.multihost.plugins.module_utils.netns.runner import Runner
from labkit import routed_namespaces, run_module, sh, udp_echo

MODULE = 'lab.multihost.impair'
A, B, PORT = '10.79.1.1', '10.79.2.1', 9000
HOST_PATHS = ('/etc/lab', ETC, '/usr/local/lib/lab-multihost', LIB, RUN)

ECHO = udp_echo(PORT)

# argv: destination, count. One probe at a time; prints each RTT in ms (null: no answer in 1 s).
PROBE = f"""
import json, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
out = []
for seq in range(int(sys.argv[2])):
    sent = time.monotonic()
    s.sendto(struct.pack("!I", seq) + bytes(60), (sys.argv[1], {PORT}))
    rtt = None
    try:
        while rtt is None:
            if struct.unpack("!I", s.recv(2048)[:4])[0] == seq:
                rtt = (time.monotonic() - sent) * 1000
    except socket.timeout:
        pass
    out.append(rtt)
print(json.dumps(out))
"""


def _snapshot():
    return {p: sorted(os.listdir(p)) if os.path.isdir(p) else None for p in HOST_PATHS}


def _listeners(prefix):
    """Pids of processes whose command line names a runtime file of this test's impairments."""
    out = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            cmdline = pathlib.Path(f'/proc/{pid}/cmdline').read_bytes().decode(errors='replace')
        except OSError:
            continue
        if f'{RUN}/{prefix}' in cmdline:
            out.append(int(pid))
    return out


def _clear(prefix):
    """Remove whatever this test's impairments left (through the engine, then by hand)."""
    for name in sorted(os.listdir(ETC)) if os.path.isdir(ETC) else []:
        if name.startswith(prefix) and name.endswith('.json'):
            rec = json.loads(pathlib.Path(ETC, name).read_text())
            try:
                engine.converge({'namespace': rec['namespace'], 'interface': rec['interface'], 'state': 'absent'})
            except engine.ImpairError:
                pass
    for pid in _listeners(prefix):
        os.kill(pid, signal.SIGKILL)


def _restore_host(before):
    """Remove by hand what the engine should have removed (after the check that it did)."""
    for path in reversed(HOST_PATHS):
        if before[path] is None and os.path.isdir(path):
            subprocess.run(['rm', '-rf', path], check=False)
        elif before[path] is not None and os.path.isdir(path):
            for name in set(os.listdir(path)) - set(before[path]):
                subprocess.run(['rm', '-rf', os.path.join(path, name)], check=False)


class Lab:
    def __init__(self, prefix):
        self.a, self.r, self.b = prefix + 'a', prefix + 'r', prefix + 'b'
        self.key = f'{self.r}-rb'
        self.echo = None

    def build(self):
        routed_namespaces(self.a, self.r, self.b, '10.79.1', '10.79.2')
        self.echo = subprocess.Popen(['ip', 'netns', 'exec', self.b, sys.executable, '-c', ECHO])

    def stop(self):
        if self.echo:
            self.echo.kill()
            self.echo.wait()

    def args(self, **kw):
        return dict({'namespace': self.r, 'interface': 'rb',
                     'match': {'destinations': [B], 'protocol': 'udp', 'port': PORT}}, **kw)

    def probe(self, count=10):
        """RTTs (ms) of ``count`` probes from a to b's echo, one at a time."""
        out = sh('ip', 'netns', 'exec', self.a, sys.executable, '-c', PROBE, B, str(count)).stdout
        return json.loads(out)

    def median(self, count=10):
        rtts = self.probe(count)
        assert None not in rtts, f'probes unanswered: {rtts}'
        return statistics.median(rtts)

    def mangle(self):
        return sh('ip', 'netns', 'exec', self.r, 'iptables', '-w', '-t', 'mangle', '-S').stdout

    def qdiscs(self):
        return json.loads(sh('tc', '-n', self.r, '-j', 'qdisc', 'show', 'dev', 'rb').stdout)

    def record(self):
        return pathlib.Path(ETC, f'{self.key}.json')

    def runtime(self):
        return sorted(p for p in (os.listdir(RUN) if os.path.isdir(RUN) else []) if p.startswith(self.key))

    def assert_nothing(self):
        """Nothing of the impairment is left: qdisc, chain, jump, process, record, runtime files."""
        assert [q['kind'] for q in self.qdiscs()] == ['noqueue'], self.qdiscs()
        assert 'LABIMP' not in self.mangle(), self.mangle()
        assert not self.record().exists()
        assert self.runtime() == []
        assert _listeners(self.r) == []


@pytest.fixture
def lab(prefix):
    before = _snapshot()
    lab = Lab(prefix)
    lab.build()
    try:
        yield lab
    finally:
        lab.stop()
        _clear(prefix)
        after = _snapshot()
        _restore_host(before)
        assert after == before, 'the host is not as the test found it'


def test_set_rerun_change_and_clear(lab):
    r = run_module(MODULE, lab.args(delay='50ms'))
    assert r.get('failed') is not True, r.get('msg')
    assert r['changed'] is True and r['backend'] == 'queue'
    imp = r['impairment']
    assert imp['in_force'] is True and imp['problems'] == [] and imp['listener']['running'] is True
    assert imp['delay'] == '50ms' and imp['queue']['number'] >= 100
    assert 45 <= lab.median() <= 90

    again = run_module(MODULE, lab.args(delay='50ms'))
    assert again['changed'] is False and again['operations'] == []

    changed = run_module(MODULE, lab.args(delay='20ms'))
    assert changed['changed'] is True
    assert [op.split()[0] for op in changed['operations']] == ['write', 'kill', 'write', 'ip'], changed['operations']
    assert changed['operations'][0] == f'write {ETC}/{lab.key}.json'
    assert changed['operations'][2] == f'write {RUN}/{lab.key}.conf'
    assert changed['impairment']['in_force'] is True and changed['impairment']['delay'] == '20ms'
    assert 18 <= lab.median() <= 60

    cleared = run_module(MODULE, {'namespace': lab.r, 'interface': 'rb', 'state': 'absent'})
    assert cleared['changed'] is True and cleared['impairment'] is None
    lab.assert_nothing()
    assert lab.median() < 15
    assert run_module(MODULE, {'namespace': lab.r, 'interface': 'rb', 'state': 'absent'})['changed'] is False


def test_check_mode_changes_nothing_and_names_the_commands(lab):
    before = _snapshot()
    r = run_module(MODULE, lab.args(delay='50ms', loss='1%', rate='10mbit'), check=True)
    assert r['changed'] is True and r['impairment'] is None
    ops = r['operations']
    assert f'ip netns exec {lab.r} iptables -w -t mangle -N LABIMP-{lab.key}' in ops
    assert f'ip netns exec {lab.r} iptables -w -t mangle -A POSTROUTING -o rb -j LABIMP-{lab.key}' in ops
    assert f'tc -n {lab.r} qdisc add dev rb root handle 4c41: htb' in ops
    assert any('listener.py --config' in op for op in ops)
    assert all(f'  $ {op}' in r['diff']['after'] for op in ops)
    assert _snapshot() == before
    lab.assert_nothing()


BAD = [
    ({'loss': '101'}, 'loss'),
    ({'loss': '-1'}, 'loss'),
    ({'delay': '50'}, 'delay'),
    ({'rate': '10'}, 'rate'),
    ({'jitter': '10ms'}, 'jitter'),
    ({'delay': '5ms', 'interface': 'nope0'}, 'interface'),
    ({'delay': '5ms', 'namespace': 'MISSING'}, 'namespace'),
]


@pytest.mark.parametrize('args,option', BAD, ids=[f'{o}:{json.dumps(a)}' for a, o in BAD])
def test_bad_input_names_the_option_and_changes_nothing(lab, args, option):
    if args.get('namespace') == 'MISSING':
        args = dict(args, namespace=lab.r + 'x')
    before = _snapshot()
    r = run_module(MODULE, dict(lab.args(), **args))
    assert r.get('failed') is True and r['msg'].startswith(option + ':'), r.get('msg')
    assert _snapshot() == before
    lab.assert_nothing()


class FailOn(Runner):
    """The real Runner, except that the first command containing ``needle`` fails
    (rc 1, not run): a failure injected midway through an apply."""

    def __init__(self, needle):
        super().__init__()
        self.needle, self.failed = needle, None

    def run(self, argv, data=None, env=None):
        line = ' '.join(argv)
        if self.failed is None and self.needle in line:
            self.failed = line
            return 1, '', 'injected failure'
        return super().run(argv, data=data, env=env)


def test_a_failure_midway_leaves_the_interface_as_it_was(lab):
    mangle, qdiscs, host = lab.mangle(), lab.qdiscs(), _snapshot()
    # The htb class comes after the chain, the running listener, the jump and the htb root.
    runner = FailOn(' class add ')
    with pytest.raises(engine.ImpairError) as err:
        engine.converge(lab.args(delay='30ms', rate='10mbit'), runner=runner)
    e = err.value
    assert runner.failed and e.msg.startswith('tc -n ') and 'injected failure' in e.msg
    undone = e.details['undone']
    assert f'tc -n {lab.r} qdisc del dev rb root' in undone
    assert f'ip netns exec {lab.r} iptables -w -t mangle -X LABIMP-{lab.key}' in undone
    assert any(u.startswith('kill -TERM') for u in undone), undone
    assert lab.mangle() == mangle and lab.qdiscs() == qdiscs and _snapshot() == host
    lab.assert_nothing()
    assert lab.median() < 15


def test_killed_listener_fails_open_and_the_read_back_says_so(lab):
    r = run_module(MODULE, lab.args(delay='40ms'))
    assert r['impairment']['in_force'] is True
    assert 35 <= lab.median(5) <= 80
    pid = r['impairment']['listener']['pid']
    [before] = [i for i in engine.read_all() if i['key'] == lab.key]  # fresh stats before the kill
    os.kill(pid, signal.SIGKILL)
    assert _wait(lambda: Node().process(pid) is None)
    assert lab.median(10) < 15, 'the bypass lets traffic pass undelayed'
    [imp] = [i for i in engine.read_all() if i['key'] == lab.key]
    assert imp['in_force'] is False and imp['listener']['running'] is False
    assert 'listener not running: packets pass undelayed' in imp['problems']
    assert imp['fail_open_packets'] >= 10 > before['fail_open_packets'], (before, imp)
    assert imp['queue']['length'] is None, 'no queue is bound'

    again = run_module(MODULE, lab.args(delay='40ms'))
    assert again['changed'] is True and len(again['operations']) == 1 and 'listener.py' in again['operations'][0]
    assert again['impairment']['in_force'] is True
    assert 35 <= lab.median(5) <= 80


def test_restore_from_the_installed_copy(lab):
    """What lab-impair.service runs at boot: the engine copy under LIB, on the system python3,
    rebuilds a record whose kernel side and listener are gone."""
    assert run_module(MODULE, lab.args(delay='30ms'))['impairment']['in_force'] is True
    for pid in _listeners(lab.r):
        os.kill(pid, signal.SIGKILL)
    sh('ip', 'netns', 'exec', lab.r, 'iptables', '-w', '-t', 'mangle', '-D', 'POSTROUTING', '-o', 'rb', '-j',
       f'LABIMP-{lab.key}')
    sh('ip', 'netns', 'exec', lab.r, 'iptables', '-w', '-t', 'mangle', '-F', f'LABIMP-{lab.key}')
    sh('ip', 'netns', 'exec', lab.r, 'iptables', '-w', '-t', 'mangle', '-X', f'LABIMP-{lab.key}')
    env = ['env', '-i', f'PYTHONPATH={LIB}', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin']
    cli = [*env, '/usr/bin/python3', '-m', 'ansible_collections.lab.multihost.plugins.module_utils.impair.engine']
    restored = sh(*cli, '--restore', check=False)
    assert restored.returncode == 0, restored.stderr
    assert f'lab-impair: {lab.key}: ' in restored.stdout and 'operations' in restored.stdout
    read = json.loads(sh(*cli, '--read').stdout)
    [imp] = [i for i in read if i['key'] == lab.key]
    assert imp['in_force'] is True, imp['problems']
    assert 25 <= lab.median(5) <= 70
    assert sh(*cli, '--restore').stdout.strip().endswith(f'{lab.key}: as recorded')


def test_netem_backend(lab):
    if not Node().has_netem():
        pytest.skip('this kernel has no sch_netem (tc qdisc add ... netem: "Specified qdisc kind is unknown"); '
                    'the netem plan is checked as exact tc argv in the unit tests')
    r = run_module(MODULE, lab.args(delay='50ms', backend='netem'))
    assert r['changed'] is True and r['backend'] == 'netem' and r['impairment']['in_force'] is True
    assert 45 <= lab.median() <= 90
    assert run_module(MODULE, lab.args(delay='50ms', backend='netem'))['changed'] is False
    assert run_module(MODULE, {'namespace': lab.r, 'interface': 'rb', 'state': 'absent'})['changed'] is True
    lab.assert_nothing()


def _wait(fn, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return False
