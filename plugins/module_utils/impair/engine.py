# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The impairment engine's entry: ``converge`` (validate, read, plan, apply)
and ``run_module`` for lab.multihost.impair; ``read`` / ``read_all`` (the
read-back of recorded impairments, for node_state); and the command line of
the engine copy on a node:

    python3 -m ansible_collections.lab.multihost.plugins.module_utils.impair.engine --restore
        converge every record (lab-impair.service at boot); 0 done, 1 a record failed
    ... --read       print read_all() as JSON
    ... --listen KEY exec the listener of one record (lab-impair-listener@KEY.service)
"""

import importlib
import json
import os
import sys

from ansible_collections.lab.multihost.plugins.module_utils import impair as impair_pkg
from ansible_collections.lab.multihost.plugins.module_utils.impair import apply as apply_mod
from ansible_collections.lab.multihost.plugins.module_utils.impair import listener as listener_mod
from ansible_collections.lab.multihost.plugins.module_utils.impair import node as node_mod
from ansible_collections.lab.multihost.plugins.module_utils.impair import plan as plan_mod
from ansible_collections.lab.multihost.plugins.module_utils.impair import state as state_mod
from ansible_collections.lab.multihost.plugins.module_utils.impair import validate as validate_mod
from ansible_collections.lab.multihost.plugins.module_utils.impair.apply import apply
from ansible_collections.lab.multihost.plugins.module_utils.impair.node import ETC, Node, runtime
from ansible_collections.lab.multihost.plugins.module_utils.impair.plan import Desired, listener_argv, plan
from ansible_collections.lab.multihost.plugins.module_utils.impair.state import (
    read_kernel,
    read_listener,
    read_records,
)
from ansible_collections.lab.multihost.plugins.module_utils.impair.validate import (
    FIRST_QUEUE,
    ImpairError,
    chain_of,
    describe,
    needs_queue,
    normalize,
)
from ansible_collections.lab.multihost.plugins.module_utils.netns import common as netns_common
from ansible_collections.lab.multihost.plugins.module_utils.netns import runner as netns_runner

PREFIX = 'ansible_collections.lab.multihost.plugins.module_utils'
SELF = PREFIX + '.impair.engine'
# What the engine copy on a node holds: the package and what it imports.
ENGINE_MODULES = (impair_pkg, apply_mod, node_mod, plan_mod, state_mod, validate_mod, listener_mod,
                  netns_common, netns_runner)
OPTIONS = ('interface', 'namespace', 'delay', 'jitter', 'loss', 'duplicate', 'rate', 'match')


def engine_files():
    """{path under module_utils: source} of the engine, read from the running
    code (the module's payload, or the files on disk)."""
    out = {}
    for name in [m.__name__ for m in ENGINE_MODULES] + [SELF]:
        mod = importlib.import_module(name)
        rel = name[len(PREFIX) + 1:].replace('.', '/')
        rel += '/__init__.py' if hasattr(mod, '__path__') else '.py'
        source = mod.__loader__.get_source(name)  # bytes from Ansible's collection loader
        out[rel] = source.decode('utf-8') if isinstance(source, bytes) else source
    return out


def _backend(spec, node):
    """The backend: as asked, or for auto netem where the kernel has it."""
    wanted = spec['backend']
    if wanted == 'queue' or (wanted == 'auto' and not node.has_netem()):
        return 'queue'
    if not needs_queue(spec) or node.has_netem():
        return 'netem'
    raise ImpairError('backend: this kernel has no sch_netem (tc ... netem fails): use backend queue or auto')


def _free_queue(records):
    used = {r.get('queue') for r in records.values()}
    n = FIRST_QUEUE
    while n in used:
        n += 1
    return n


def _where(ns):
    return f'namespace {ns}' if ns else 'the node'


def converge(options, check_mode=False, node=None, runner=None, files=None):
    """Validate, read, plan and (unless check_mode) apply one impairment.

    Returns a dict for exit_json: changed, backend, operations, diff,
    impairment, warnings. Raises ImpairError (with .details) on invalid
    input or a failed step (after undoing what this run applied).
    """
    spec = normalize(options)
    node = node or Node(runner)
    key, ns, iface = spec['key'], spec['namespace'], spec['interface']
    if node.tool('tc') is None:
        raise ImpairError('the tc command (iproute2) was not found on the node')
    records = read_records(node)
    record = records.get(key)
    if record and (record.get('namespace'), record.get('interface')) != (ns, iface):
        raise ImpairError(f"interface: the impairment {key} is recorded for interface {record.get('interface')} "
                          f"in {_where(record.get('namespace'))}", record=record)
    desired, backend = None, (record or {}).get('backend')
    if spec['state'] == 'present':
        kernel = read_kernel(node, ns, iface, chain_of(key))
        if not kernel['namespace']:
            raise ImpairError(f'namespace: no network namespace {ns!r} (ip netns list)')
        if not kernel['interface']:
            raise ImpairError(f'interface: no interface {iface!r} in {_where(ns)}')
        backend = _backend(spec, node)
        if backend == 'queue' and needs_queue(spec) and node.tool('iptables') is None:
            raise ImpairError('backend: the queue backend needs iptables on the node (package iptables)')
        queue = (record or {}).get('queue') or _free_queue(records)
        desired = Desired(spec, backend, queue)
    else:
        kernel = read_kernel(node, ns, iface, chain_of(key))
    lst = read_listener(node, key)
    p = plan(node, key, ns, iface, desired, kernel, lst, files=engine_files() if files is None else files,
             others=[k for k in records if k != key])
    before = read(node, key, record) if record else None
    ops = [op.line for op in p.ops]
    result = {
        'changed': bool(p.ops),
        'backend': backend,
        'operations': ops,
        'diff': {'before': _render(key, before),
                 'after': _render(key, dict(describe(spec), backend=backend) if desired else None, ops)},
        'warnings': [],
    }
    if desired and backend == 'queue' and needs_queue(spec) and p.ops and spec['backend'] == 'auto':
        result['warnings'].append('this kernel has no sch_netem: the queue backend (NFQUEUE and a listener) '
                                  'holds the impairment; it fails open (see docs/impair.md)')
    if p.ops and not check_mode:
        apply(p.ops, node)
        result['impairment'] = read(node, key) if desired else None
    else:
        result['impairment'] = before
    return result


def _render(key, view, ops=()):
    if view is None:
        lines = [f'{key}: none']
    else:
        fields = ('backend', 'delay', 'jitter', 'loss', 'duplicate', 'rate')
        words = [f'{f}={view[f]}' for f in fields if view.get(f)]
        if view.get('match'):
            words.append('match=' + _match_text(view['match'], ','))
        lines = [f"{key}: {' '.join(words)}"] + [f'  problem: {x}' for x in view.get('problems') or []]
    lines += [f'  $ {op}' for op in ops]
    return '\n'.join(lines) + '\n'


def _match_text(m, sep=', '):
    port = f"/{m['port']}" if m.get('port') else ''
    return f"{m.get('protocol') or 'ip'}{port} to {sep.join(m.get('destinations') or []) or 'any'}"


def summary(view):
    """One line for a read-back: where, what it sets, for which traffic, the backend, whether in force."""
    where = f"{view['namespace']}/{view.get('interface')}" if view.get('namespace') else view.get('interface')
    sets = ' '.join(f'{f} {view[f]}' for f in ('delay', 'jitter', 'loss', 'duplicate', 'rate') if view.get(f))
    to = f" for {_match_text(view['match'])}" if view.get('match') else ''
    state = 'in force' if view.get('in_force') else 'NOT in force: ' + '; '.join(view.get('problems') or [])
    passed = view.get('fail_open_packets') or 0
    extra = f', {passed} packets passed unimpaired' if passed else ''
    return f"{where}: {sets or 'nothing'}{to} (backend {view.get('backend')}, {state}{extra})"


def _spec_of(record):
    options = {k: record.get(k) for k in OPTIONS}
    return normalize(dict(options, backend=record.get('backend'), state='present'))


def read(node, key, record=None):
    """The read-back of one recorded impairment (None without a record): what
    it declares, whether the kernel and the listener hold it, the counters."""
    record = record or read_records(node).get(key)
    if record is None:
        return None
    spec = _spec_of(record)
    ns, iface, queue = spec['namespace'], spec['interface'], record.get('queue')
    desired = Desired(spec, record.get('backend'), queue)
    kernel = read_kernel(node, ns, iface, desired.chain, queue=queue if desired.queued else None)
    lst = read_listener(node, key, refresh=True)  # after the rule counters: none of theirs is missed
    problems = []
    if not kernel['namespace']:
        problems.append(f'namespace {ns} does not exist')
    elif not kernel['interface']:
        problems.append(f'interface {iface} does not exist in {_where(ns)}')
    problems += plan(node, key, ns, iface, desired, kernel, lst, strict=False).problems
    out = dict(describe(spec), key=key, backend=desired.backend, listener=None, queue=None, fail_open_packets=0)
    if desired.queued:
        stats = lst['stats']
        out['listener'] = {'pid': lst['pid'] if lst['running'] else None, 'running': lst['running'],
                           **{c: stats.get(c, 0) for c in ('received', 'dropped', 'duplicated', 'held')}}
        bound = kernel['queues'].get(queue)
        out['queue'] = {'number': queue, 'length': None, 'kernel_dropped': None, 'user_dropped': None}
        if bound:
            out['queue'].update(length=bound['length'], kernel_dropped=bound['kernel_dropped'],
                                user_dropped=bound['user_dropped'])
        elif lst['running'] and kernel['interface']:
            problems.append(f'queue {queue}: no listener bound in the kernel')
        queued = sum(n for rule, n, dummy in kernel['rules'].get(desired.chain, []) if '-j NFQUEUE' in rule)
        out['fail_open_packets'] = max(0, queued - stats.get('received', 0))
    out.update(in_force=not problems, problems=problems)
    out['summary'] = summary(out)
    return out


def read_all(runner=None, node=None):
    """The read-back of every impairment recorded on the node (no probe)."""
    node = node or Node(runner)
    out = []
    for key, record in sorted(read_records(node).items()):
        try:
            out.append(read(node, key, record))
        except ImpairError as exc:
            view = dict(key=key, interface=record.get('interface'), namespace=record.get('namespace'),
                        backend=record.get('backend'), in_force=False, problems=[exc.msg])
            out.append(dict(view, summary=summary(view)))
    return out


def run_module(module):
    """Converge the module's options and exit."""
    options = {k: module.params.get(k) for k in OPTIONS + ('backend', 'state')}
    netns_common.exit_module(module, lambda: converge(options, check_mode=module.check_mode))


def restore(node=None, out=None, files=None):
    """Converge every record (at boot); the number of records that failed."""
    node = node or Node()
    out = out or sys.stdout
    failed = 0
    for key, record in sorted(read_records(node).items()):
        options = dict({k: record.get(k) for k in OPTIONS}, backend=record.get('backend'), state='present')
        try:
            r = converge(options, node=node, files=files)
            out.write(f"lab-impair: {key}: {len(r['operations'])} operations\n" if r['changed']
                      else f'lab-impair: {key}: as recorded\n')
        except ImpairError as exc:
            out.write(f'lab-impair: {key}: {exc.msg}\n')
            failed += 1
    return failed


def listen(key, node=None):
    """Exec the listener of the record ``key`` in its namespace (the template unit's command)."""
    node = node or Node()
    record = read_records(node).get(key)
    if record is None:
        raise ImpairError(f'no record {ETC}/{key}.json')
    spec = _spec_of(record)
    desired = Desired(spec, record.get('backend'), record.get('queue'))
    if node.read(runtime(key, 'conf')) != desired.conf():
        node.write(runtime(key, 'conf'), desired.conf())
    argv = node.resolve(listener_argv(node, key, spec['namespace']))
    os.execv(argv[0], argv)


def main(argv=None, out=None, err=None):
    """``--restore`` | ``--read`` | ``--listen KEY``: 0 done, 1 failed, 2 usage."""
    args = sys.argv[1:] if argv is None else list(argv)
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if args == ['--restore']:
            return 1 if restore(out=out) else 0
        if args == ['--read']:
            out.write(json.dumps(read_all(), indent=1, sort_keys=True) + '\n')
            return 0
        if len(args) == 2 and args[0] == '--listen':
            listen(args[1])
            return 1
    except (OSError, ValueError, ImpairError) as exc:
        err.write(f"lab-impair: {getattr(exc, 'msg', exc)}\n")
        return 1
    err.write('usage: engine.py --restore | --read | --listen KEY\n')
    return 2


if __name__ == '__main__':
    raise SystemExit(main())
