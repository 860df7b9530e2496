# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading one impairment on the node: the interface's qdiscs (``tc -j qdisc
show``, classes and u32 filters as text: tc prints no usable JSON for them),
the mangle table with counters (``iptables -v -S``), the kernel's queues
(/proc/net/netfilter/nfnetlink_queue, per namespace), the record and the
listener (pidfile, process, stats). Parsers are pure functions of the text."""

import json
import re

from ansible_collections.lab.multihost.plugins.module_utils.impair.node import ETC, runtime
from ansible_collections.lab.multihost.plugins.module_utils.impair.validate import HANDLE, ImpairError
from ansible_collections.lab.multihost.plugins.module_utils.netns.runner import parse_json

OURS = (f'{HANDLE}:', '4c42:', '4c43:')   # root, netem under prio, tbf under netem
RATE_RE = re.compile(r'^(\d+(?:\.\d+)?)([KMGT]?)bit$')
RATE_MULT = {'': 1, 'K': 10**3, 'M': 10**6, 'G': 10**9, 'T': 10**12}


def tc(ns, *args):
    return ['tc'] + (['-n', ns] if ns else []) + list(args)


def in_ns(ns, argv):
    return (['ip', 'netns', 'exec', ns] if ns else []) + list(argv)


def ipt(ns, *args):
    return in_ns(ns, ['iptables', '-w', '-t', 'mangle'] + list(args))


# ------------------------------------------------------------------ parsers

def qdisc_view(q):
    """The attributes of a qdisc of ours the engine compares."""
    kind, o = q.get('kind'), q.get('options') or {}
    view = {'kind': kind, 'parent': 'root' if q.get('root') else q.get('parent')}
    if kind == 'tbf':
        view['rate_bit'] = int(o.get('rate') or 0) * 8
    elif kind == 'prio':
        view['bands'] = o.get('bands')
    elif kind == 'netem':
        delay = o.get('delay') or {}
        view.update(delay_us=int(round((delay.get('delay') or 0) * 1e6)),
                    jitter_us=int(round((delay.get('jitter') or 0) * 1e6)),
                    loss=round((o.get('loss-random') or {}).get('loss', 0) * 100, 4),
                    duplicate=round((o.get('duplicate') or {}).get('duplicate', 0) * 100, 4))
    return view


def parse_qdiscs(entries):
    """(root {kind, handle} or None, {handle: view} of ours) of ``tc -j qdisc show dev X``."""
    root, ours = None, {}
    for q in entries:
        if q.get('root'):
            root = {'kind': q.get('kind'), 'handle': q.get('handle')}
        if q.get('handle') in OURS:
            ours[q['handle']] = qdisc_view(q)
    return root, ours


def parse_rate(text):
    m = RATE_RE.match(text)
    return int(round(float(m.group(1)) * RATE_MULT[m.group(2)])) if m else None


def parse_classes(text):
    """{classid: {parent, rate_bit, ceil_bit}} of ``tc class show dev X`` (htb)."""
    out = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) < 4 or w[0] != 'class':
            continue
        view = {'parent': 'root' if w[3] == 'root' else (w[4] if len(w) > 4 else None)}
        for key, name in (('rate', 'rate_bit'), ('ceil', 'ceil_bit')):
            if key in w[:-1]:
                view[name] = parse_rate(w[w.index(key) + 1])
        out[w[2]] = view
    return out


def parse_filters(text):
    """Sorted [(flowid, ((value, mask, offset), ...))] of ``tc filter show dev X parent P`` (u32)."""
    out, cur = [], None
    for line in text.splitlines():
        w = line.split()
        if w[:1] == ['filter']:
            cur = None
            for i, word in enumerate(w[:-1]):
                if word in ('flowid', '*flowid', 'classid', '*classid'):
                    cur = [w[i + 1], []]
                    out.append(cur)
        elif w[:1] == ['match'] and cur is not None and len(w) >= 4 and '/' in w[1]:
            value, mask = (int(x, 16) for x in w[1].split('/'))
            cur[1].append((value & mask, mask, int(w[3])))
    return sorted((flowid, tuple(sorted(keys))) for flowid, keys in out)


def parse_mangle(text):
    """(chains, {chain: [(rule, packets, bytes)]}) of ``iptables -t mangle -v -S``;
    a rule is its -S line without the counters."""
    chains, rules = set(), {}
    for line in text.splitlines():
        w = line.split()
        if w[:1] == ['-N'] and len(w) > 1:
            chains.add(w[1])
        elif w[:1] == ['-A'] and len(w) > 1:
            pkts = nbytes = 0
            if '-c' in w:
                i = w.index('-c')
                pkts, nbytes = int(w[i + 1]), int(w[i + 2])
                w = w[:i] + w[i + 3:]
            rules.setdefault(w[1], []).append((' '.join(w), pkts, nbytes))
    return chains, rules


def parse_nfqueue(text):
    """{queue: {portid, length, kernel_dropped, user_dropped}} of /proc/net/netfilter/nfnetlink_queue."""
    out = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 7 and all(x.isdigit() for x in w[:7]):
            out[int(w[0])] = {'portid': int(w[1]), 'length': int(w[2]),
                              'kernel_dropped': int(w[5]), 'user_dropped': int(w[6])}
    return out


# ------------------------------------------------------------------ reading

def namespaces(node):
    rc, out, err = node.run(['ip', '-j', 'netns', 'list'])
    if rc != 0:
        raise ImpairError(f'reading the namespaces failed: {err.strip()}', cmd='ip -j netns list', rc=rc)
    return {e['name'] for e in parse_json(out) if 'name' in e}


def read_kernel(node, ns, iface, chain, queue=None):
    """What the kernel holds for one impairment; ``exists`` False when the
    namespace or the interface is missing (nothing else is read then)."""
    k = {'namespace': ns is None or ns in namespaces(node), 'interface': False, 'root': None, 'qdiscs': {},
         'classes': {}, 'filters': [], 'chains': set(), 'rules': {}, 'queues': {}, 'iptables': True}
    if not k['namespace']:
        return k
    rc, out, dummy = node.run((['ip', '-n', ns] if ns else ['ip']) + ['-j', 'link', 'show', 'dev', iface])
    k['interface'] = rc == 0
    if k['interface']:
        k['root'], k['qdiscs'] = parse_qdiscs(_json(node, tc(ns, '-j', 'qdisc', 'show', 'dev', iface)))
        root_kind = (k['qdiscs'].get(OURS[0]) or {}).get('kind')
        if root_kind == 'htb':
            k['classes'] = parse_classes(_text(node, tc(ns, 'class', 'show', 'dev', iface)))
        if root_kind in ('htb', 'prio'):
            k['filters'] = parse_filters(_text(node, tc(ns, 'filter', 'show', 'dev', iface, 'parent', OURS[0])))
    rc, out, dummy = node.run(ipt(ns, '-v', '-S'))
    if rc == 0:
        k['chains'], k['rules'] = parse_mangle(out)
    else:
        k['iptables'] = False
    if queue is not None:
        rc, out, dummy = node.run(in_ns(ns, ['cat', '/proc/net/netfilter/nfnetlink_queue']))
        k['queues'] = parse_nfqueue(out) if rc == 0 else {}
    return k


def _text(node, argv):
    rc, out, err = node.run(argv)
    if rc != 0:
        raise ImpairError('reading state failed: {}: {}'.format(' '.join(argv), err.strip()),
                          cmd=' '.join(argv), rc=rc, stderr=err.strip())
    return out


def _json(node, argv):
    return parse_json(_text(node, argv))


def read_listener(node, key, refresh=False):
    """{pid, running, conf, stats} of an impairment's listener; ``refresh``
    asks a running one for its counters first (SIGUSR1)."""
    pidfile = runtime(key, 'pid')
    text = (node.read(pidfile) or '').strip()
    pid = int(text) if text.isdigit() else None
    proc = node.process(pid) if pid else None
    running = bool(proc) and pidfile in proc['cmdline']
    stats = _load(node.read(runtime(key, 'stats'))) or {}
    if running and refresh and stats.get('pid') == pid:
        stats = node.refresh_stats(pid, runtime(key, 'stats')) or stats
    return {'pid': pid, 'running': running, 'conf': node.read(runtime(key, 'conf')), 'stats': stats,
            'pidfile': text != ''}


def _load(text):
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def read_records(node):
    """{key: record} of every /etc/lab/impair/<key>.json."""
    out = {}
    for name in node.listdir(ETC):
        if name.endswith('.json'):
            record = _load(node.read(f'{ETC}/{name}'))
            if record is None:
                raise ImpairError(f'the record {ETC}/{name} is not a JSON object: remove or fix it')
            out[name[:-5]] = record
    return out
