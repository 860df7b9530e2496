# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired vs read -> operations, each with its undo, and the problems (what
is not in force). Three parts, in the order they apply: the engine copy and
units (persistence) and the record (a listener's unit starts from it), the
queue side (config, chain, listener, jump) and tc (qdiscs, htb class, u32
filters); removing, the record goes last. Everything the engine
sets is recognisable as its own: tc handles 4c41:-4c43:, the chain
LABIMP-<key>, the files named by the key."""

import ipaddress
import json

from ansible_collections.lab.multihost.plugins.module_utils.impair.node import (
    ETC,
    LIB,
    LISTENER,
    PKG,
    RUN,
    SERVICE,
    TEMPLATE,
    UNITS,
    WANTS,
    runtime,
    unit_of,
)
from ansible_collections.lab.multihost.plugins.module_utils.impair.state import OURS, in_ns, ipt, tc
from ansible_collections.lab.multihost.plugins.module_utils.impair.validate import (
    MARK,
    ImpairError,
    chain_of,
    describe,
    fmt_percent,
    fmt_rate,
    fmt_time,
    needs_queue,
)

PROTO_NUM = {'icmp': 1, 'tcp': 6, 'udp': 17}
MAXLEN = 8192          # packets the listener holds at most
BURST_MIN = 3200       # bytes: two full-size packets


class Op:
    """One step: ``kind`` cmd (argv), write, remove, install, start or stop
    (a listener); ``line`` is what operations show; ``undo``: ops reversing it."""

    def __init__(self, kind, line, undo=(), **args):
        self.kind, self.line, self.undo, self.args = kind, line, list(undo), args

    def __repr__(self):
        return f'<Op {self.line}>'


def cmd(argv, undo=()):
    return Op('cmd', ' '.join(argv), undo, argv=list(argv))


def restore(node, path, mode=0o644):
    """What puts a file back as it is now (or removes it)."""
    old = node.read(path)
    if old is None:
        return Op('remove', f'remove {path}', path=path)
    return Op('write', f'write {path}', path=path, content=old, mode=mode)


def write(node, path, content, mode=0o644):
    return Op('write', f'write {path}', [restore(node, path, mode)], path=path, content=content, mode=mode)


def remove(path):
    return Op('remove', f'remove {path}', path=path)


class Plan:
    def __init__(self):
        self.ops, self.problems = [], []


# ------------------------------------------------------------ desired state

class Desired:
    """An impairment as the kernel and the listener should hold it."""

    def __init__(self, spec, backend, queue):
        self.spec, self.backend, self.queue = spec, backend, queue
        self.key, self.chain = spec['key'], chain_of(spec['key'])
        self.queued = backend == 'queue' and needs_queue(spec)

    def rules(self):
        """The chain's rules as ``iptables -S`` prints them (and as they are added)."""
        if not self.queued:
            return []
        out = [f'-A {self.chain} -m mark --mark 0x{MARK:x} -j RETURN']
        m = self.spec['match'] or {}
        for dest in m.get('destinations') or [None]:
            words = ['-A', self.chain] + (['-d', dest] if dest else [])
            if m.get('protocol'):
                words += ['-p', m['protocol']]
                if m.get('port'):
                    words += ['-m', m['protocol'], '--dport', str(m['port'])]
            out.append(' '.join(words + ['-j', 'NFQUEUE', '--queue-num', str(self.queue), '--queue-bypass']))
        return out

    def conf(self):
        s = self.spec
        return json.dumps({'queue': self.queue, 'delay_us': s['delay_us'], 'jitter_us': s['jitter_us'],
                           'loss': s['loss'], 'duplicate': s['duplicate'], 'mark': MARK, 'maxlen': MAXLEN},
                          sort_keys=True) + '\n'

    def record(self):
        rec = dict(describe(self.spec), key=self.key, backend=self.backend, queue=self.queue, mark=MARK)
        return json.dumps(rec, sort_keys=True, indent=1) + '\n'

    def tree(self):
        return tc_tree(self.spec, self.backend)


# ------------------------------------------------------------------ tc

def tbf_args(rate_bit):
    return ['rate', fmt_rate(rate_bit), 'burst', str(max(rate_bit // 800, BURST_MIN)), 'latency', '50ms']


def netem_args(v):
    args = []
    if v['delay_us']:
        args += ['delay', fmt_time(v['delay_us'])] + ([fmt_time(v['jitter_us'])] if v['jitter_us'] else [])
    if v['loss']:
        args += ['loss', fmt_percent(v['loss'])]
    if v['duplicate']:
        args += ['duplicate', fmt_percent(v['duplicate'])]
    return args


def args_of(view):
    """The tc words that make a qdisc of this view (None for a kind not ours)."""
    kind = view.get('kind')
    if kind == 'tbf':
        return tbf_args(view['rate_bit'])
    if kind == 'netem':
        return netem_args(view)
    if kind == 'prio':
        return ['bands', str(view['bands'])]
    return [] if kind == 'htb' else None


def _qdisc(handle, parent, view):
    return {'handle': handle, 'parent': parent, 'view': dict(view, parent=parent)}


def _netem_view(spec):
    return {'kind': 'netem', 'delay_us': spec['delay_us'], 'jitter_us': spec['jitter_us'],
            'loss': round(spec['loss'], 4), 'duplicate': round(spec['duplicate'], 4)}


def _filter(dest, proto, port, flowid):
    keys, args = [], []
    if dest and ipaddress.IPv4Network(dest).prefixlen:
        net = ipaddress.IPv4Network(dest)
        keys.append((int(net.network_address), int(net.netmask), 16))
        args += ['match', 'ip', 'dst', dest]
    if proto:
        keys.append((PROTO_NUM[proto] << 16, 0x00ff0000, 8))
        args += ['match', 'ip', 'protocol', str(PROTO_NUM[proto]), '0xff']
    if port:
        keys.append((port, 0xffff, 20))
        args += ['match', 'ip', 'dport', str(port), '0xffff']
    if not keys:
        keys, args = [(0, 0, 0)], ['match', 'u32', '0', '0']
    return {'flowid': flowid, 'keys': tuple(sorted(keys)), 'args': args}


def tc_tree(spec, backend):
    """{qdiscs, classes, filters} for a spec: netem (root, or a prio band with u32
    filters for a match; a rate is a tbf under netem), or for a rate alone (and
    the queue backend) tbf on the root, htb with u32 filters for a match."""
    qdiscs, classes, filters, flow = [], [], [], None
    rate, m = spec['rate_bit'], spec['match']
    tbf = {'kind': 'tbf', 'rate_bit': rate // 8 * 8}
    if backend == 'netem' and needs_queue(spec):
        if m:
            qdiscs += [_qdisc(OURS[0], 'root', {'kind': 'prio', 'bands': 4}),
                       _qdisc(OURS[1], OURS[0] + '4', _netem_view(spec))]
            flow, netem = OURS[0] + '4', OURS[1]
        else:
            qdiscs.append(_qdisc(OURS[0], 'root', _netem_view(spec)))
            netem = OURS[0]
        if rate:
            qdiscs.append(_qdisc(OURS[2], netem + '1', tbf))
    elif rate:
        if m:
            qdiscs.append(_qdisc(OURS[0], 'root', {'kind': 'htb'}))
            classes.append({'classid': OURS[0] + '1', 'view': {'parent': 'root', 'rate_bit': rate // 8 * 8,
                                                               'ceil_bit': rate // 8 * 8}})
            flow = OURS[0] + '1'
        else:
            qdiscs.append(_qdisc(OURS[0], 'root', tbf))
    if flow:
        for dest in m['destinations'] or [None]:
            filters.append(_filter(dest, m['protocol'], m['port'], flow))
    return {'qdiscs': qdiscs, 'classes': classes, 'filters': filters}


def _where(parent):
    return ['root'] if parent == 'root' else ['parent', parent]


def qdisc_cmd(ns, iface, verb, handle, view):
    return tc(ns, 'qdisc', verb, 'dev', iface, *_where(view['parent']), 'handle', handle, view['kind'],
              *args_of(view))


def class_cmd(ns, iface, verb, classid, view):
    rate = fmt_rate(view['rate_bit'])
    return tc(ns, 'class', verb, 'dev', iface, 'parent', OURS[0], 'classid', classid, 'htb', 'rate', rate,
              'ceil', fmt_rate(view['ceil_bit']), 'burst', str(max(view['rate_bit'] // 800, BURST_MIN)))


def filter_cmd(ns, iface, flowid, args):
    return tc(ns, 'filter', 'add', 'dev', iface, 'parent', OURS[0], 'protocol', 'ip', 'prio', '1', 'u32',
              *args, 'flowid', flowid)


def build_ops(ns, iface, qdiscs, classes, filters):
    """The commands that build a tree (qdiscs by handle: the root first)."""
    out = [qdisc_cmd(ns, iface, 'add', h, v) for h, v in sorted(qdiscs.items())]
    out += [class_cmd(ns, iface, 'add', c, v) for c, v in sorted(classes.items())]
    return out + [filter_cmd(ns, iface, flowid, args) for flowid, args in filters]


def _u32_args(keys):
    out = []
    for value, mask, off in keys:
        out += ['match', 'u32', f'0x{value:08x}', f'0x{mask:08x}', 'at', str(off)]
    return out


def plan_tc(p, desired, k, ns, iface, strict):
    """tc: nothing, ``change`` of the parameters that differ (same shape), or
    the tree deleted (its undo: built again as read) and built anew."""
    tree = desired.tree() if desired else {'qdiscs': [], 'classes': [], 'filters': []}
    want_q = {q['handle']: q['view'] for q in tree['qdiscs']}
    want_c = {c['classid']: c['view'] for c in tree['classes']}
    want_f = sorted((f['flowid'], f['keys']) for f in tree['filters'])
    have_q, have_c, have_f = k['qdiscs'], k['classes'], k['filters']
    if want_q == have_q and want_c == have_c and want_f == have_f:
        return
    root = k['root']
    if want_q and root and root['handle'] not in ('0:', OURS[0]):
        msg = (f"tc: {iface} holds a root qdisc lab.multihost.impair did not set ({root['kind']} "
               f"{root['handle']}); remove it first")
        if strict:
            raise ImpairError('interface: ' + msg, interface=iface)
        p.problems.append(msg)
        return
    if not have_q:
        p.problems.append(f'tc: no qdisc of ours on {iface}')
    else:
        p.problems.append(f'tc: the qdiscs on {iface} differ from the record')
    shape = {h: (v['kind'], v['parent']) for h, v in want_q.items()}
    if want_q and shape == {h: (v['kind'], v['parent']) for h, v in have_q.items()} \
            and set(want_c) == set(have_c) and want_f == have_f:
        for h, v in want_q.items():
            if v != have_q[h]:
                p.ops.append(cmd(qdisc_cmd(ns, iface, 'change', h, v),
                                 [cmd(qdisc_cmd(ns, iface, 'change', h, have_q[h]))]))
        for c, v in want_c.items():
            if v != have_c[c]:
                p.ops.append(cmd(class_cmd(ns, iface, 'change', c, v),
                                 [cmd(class_cmd(ns, iface, 'change', c, have_c[c]))]))
        return
    if OURS[0] in have_q:
        rebuild = []
        if all(args_of(v) is not None for v in have_q.values()) and all(
                'rate_bit' in v and 'ceil_bit' in v for v in have_c.values()):
            rebuild = [cmd(a) for a in build_ops(ns, iface, have_q, have_c,
                                                 [(f, _u32_args(keys)) for f, keys in have_f])]
        p.ops.append(cmd(tc(ns, 'qdisc', 'del', 'dev', iface, 'root'), rebuild))
    argvs = build_ops(ns, iface, want_q, want_c, [(f['flowid'], f['args']) for f in tree['filters']])
    for i, argv in enumerate(argvs):
        p.ops.append(cmd(argv, [cmd(tc(ns, 'qdisc', 'del', 'dev', iface, 'root'))] if i == 0 else []))


# ---------------------------------------------------------- queue side

def listener_argv(node, key, ns):
    return in_ns(ns, [node.python, LISTENER, '--config', runtime(key, 'conf'), '--pidfile', runtime(key, 'pid'),
                      '--stats', runtime(key, 'stats')])


def start_op(node, key, ns):
    unit = unit_of(key)
    argv = listener_argv(node, key, ns)
    line = f'systemctl start --no-block {unit}' if node.systemd else ' '.join(argv)
    made = [remove(runtime(key, w)) for w in ('stats', 'log') if not node.exists(runtime(key, w))]
    return Op('start', line, [stop_op(node, key)] + made, key=key, argv=argv, unit=unit)


def stop_op(node, key, pid=None):
    unit = unit_of(key)
    line = f'systemctl stop {unit}' if node.systemd else f"kill -TERM {pid or '<pid>'} (listener {key})"
    return Op('stop', line, key=key, unit=unit)


def plan_queue(p, desired, k, lst, node, key, ns, iface):
    """The chain (mark skip, then the NFQUEUE rules), the listener, the jump."""
    chain = chain_of(key)
    want = desired.rules() if desired else []
    have = [r for r, dummy, dummy2 in k['rules'].get(chain, [])]
    exists = chain in k['chains']
    jump = f'-A POSTROUTING -o {iface} -j {chain}'
    jumps = [r for r, dummy, dummy2 in k['rules'].get('POSTROUTING', []) if r.split()[-2:] == ['-j', chain]]
    if not want:
        if desired and (exists or jumps or lst['running']):
            p.problems.append(f'iptables: the chain {chain} or its listener are left, the record declares no queue')
        for j in jumps:
            p.ops.append(cmd(ipt(ns, *j.replace('-A', '-D', 1).split()), [cmd(ipt(ns, *j.split()))]))
        # a unit instance may be restarting a listener that keeps failing: stop it too
        if lst['running'] or (node.systemd and node.exists(runtime(key, 'conf'))):
            p.ops.append(stop_op(node, key, lst['pid']))
        if exists:
            p.ops.append(cmd(ipt(ns, '-F', chain), [cmd(ipt(ns, *r.split())) for r in have]))
            p.ops.append(cmd(ipt(ns, '-X', chain), [cmd(ipt(ns, '-N', chain))]))
        for what in ('conf', 'stats', 'log') + (() if lst['running'] else ('pid',)):
            if node.exists(runtime(key, what)):
                p.ops.append(remove(runtime(key, what)))
        return
    conf = desired.conf()
    chain_ok = exists and have == want
    if not exists:
        p.problems.append(f'iptables: the chain {chain} is missing')
    elif not chain_ok:
        p.problems.append(f'iptables: the chain {chain} differs from the record')
    if jumps != [jump]:
        p.problems.append(f'iptables: POSTROUTING -o {iface} does not jump to {chain} once')
    if not lst['running']:
        p.problems.append('listener not running: packets pass undelayed')
    elif lst['conf'] != conf:
        p.problems.append('listener: its config differs from the record')
    restart = not chain_ok or lst['conf'] != conf or not lst['running']
    if lst['running'] and restart:
        p.ops.append(stop_op(node, key, lst['pid']))
    if lst['conf'] != conf:
        p.ops.append(write(node, runtime(key, 'conf'), conf))
    if not chain_ok:
        if node.exists(runtime(key, 'stats')):  # new rules count from 0: so does the listener
            p.ops.append(remove(runtime(key, 'stats')))
        if exists:
            p.ops.append(cmd(ipt(ns, '-F', chain), [cmd(ipt(ns, *r.split())) for r in have]))
        else:
            p.ops.append(cmd(ipt(ns, '-N', chain), [cmd(ipt(ns, '-X', chain))]))
        for r in want:
            p.ops.append(cmd(ipt(ns, *r.split()), [cmd(ipt(ns, *r.replace('-A', '-D', 1).split()))]))
    if restart:
        p.ops.append(start_op(node, key, ns))
    extra = list(jumps)
    if jump in extra:
        extra.remove(jump)
    for j in extra:
        p.ops.append(cmd(ipt(ns, *j.replace('-A', '-D', 1).split()), [cmd(ipt(ns, *j.split()))]))
    if jump not in jumps:
        p.ops.append(cmd(ipt(ns, *jump.split()), [cmd(ipt(ns, *jump.replace('-A', '-D', 1).split()))]))


# ---------------------------------------------------------- persistence

def service_unit(python):
    return f'''# Installed by lab.multihost.impair: restores every impairment recorded in {ETC}.
[Unit]
Description=Restore the declared network impairments (lab.multihost.impair)
After=network.target docker.service netns-lab.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=PYTHONPATH={LIB}
ExecStart={python} -m ansible_collections.lab.multihost.plugins.module_utils.impair.engine --restore

[Install]
WantedBy=multi-user.target
'''


def template_unit(python):
    return f'''# Installed by lab.multihost.impair: the NFQUEUE listener of one impairment (instance = its key).
[Unit]
Description=NFQUEUE listener of the impairment %i (lab.multihost.impair)
After=network.target

[Service]
Type=simple
Environment=PYTHONPATH={LIB}
ExecStart={python} -m ansible_collections.lab.multihost.plugins.module_utils.impair.engine --listen %i
Restart=on-failure
RestartSec=1
'''


UNIT_PYTHON = '/usr/bin/python3'


def plan_install(p, node, files):
    """The engine copy (``files``: path under module_utils -> source) and, on a
    systemd node, the units; only what is missing or different."""
    changed = {f'{PKG}/{rel}': text for rel, text in sorted(files.items()) if node.read(f'{PKG}/{rel}') != text}
    if changed:
        if node.exists(LIB):
            undo = [restore(node, path) for path in changed]
        else:
            undo = [remove(LIB)]
        p.ops.append(Op('install', f'install {LIB} ({len(changed)} files)', undo, files=changed))
    if not node.systemd:
        return
    written = []
    for name, text in ((SERVICE, service_unit(UNIT_PYTHON)), (TEMPLATE, template_unit(UNIT_PYTHON))):
        if node.read(f'{UNITS}/{name}') != text:
            written.append(write(node, f'{UNITS}/{name}', text))
    if written:
        written[0].undo.append(cmd(['systemctl', 'daemon-reload']))
        p.ops += written + [cmd(['systemctl', 'daemon-reload'])]
    if not node.exists(WANTS):
        p.ops.append(cmd(['systemctl', 'enable', SERVICE], [cmd(['systemctl', 'disable', SERVICE])]))


def plan_uninstall(p, node):
    """The last impairment gone: the units, the engine copy and the runtime directory."""
    if node.systemd:
        if node.exists(WANTS):
            p.ops.append(cmd(['systemctl', 'disable', SERVICE]))
        units = [f'{UNITS}/{name}' for name in (SERVICE, TEMPLATE) if node.exists(f'{UNITS}/{name}')]
        p.ops += [remove(u) for u in units]
        if units:
            p.ops.append(cmd(['systemctl', 'daemon-reload']))
    for path in (LIB, RUN):
        if node.exists(path):
            p.ops.append(remove(path))


# ------------------------------------------------------------- the whole

def plan(node, key, ns, iface, desired, kernel, lst, files=None, others=(), strict=True):
    """Operations and problems for one impairment. ``desired`` None: absent;
    ``files`` None: leave the engine copy and units alone (a read-back);
    ``others``: the keys of the node's other records."""
    p = Plan()
    record_path = f'{ETC}/{key}.json'
    if desired and files is not None:
        plan_install(p, node, files)
        # Before the listener: its unit starts it from the record.
        text = desired.record()
        if node.read(record_path) != text:
            p.ops.append(write(node, record_path, text))
    if not desired or kernel['interface']:
        plan_queue(p, desired, kernel, lst, node, key, ns, iface)
    if kernel['interface']:
        plan_tc(p, desired, kernel, ns, iface, strict)
    if not desired and files is not None:
        if node.exists(record_path):
            p.ops.append(remove(record_path))
        if not others:
            plan_uninstall(p, node)
    return p
