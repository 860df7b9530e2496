# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Applying a plan: phase by phase, one ``ip [-n NS] -batch -`` per namespace
and phase (the namespaces of a phase in parallel), iptables one rule at a time.
On failure the creating ops that ran are undone in reverse order and the
error names the failing command, its stderr and what was undone."""

import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import WORKERS, NetnsError

BATCH_FAIL_RE = re.compile(r'Command failed -:(\d+)')


def _groups(ops):
    """[(phase, tool, ns, [ops])] in phase order, first-seen namespace order."""
    out = {}
    order = []
    for op in ops:
        key = (op.phase, op.tool, op.ns)
        if key not in out:
            out[key] = []
            order.append(key)
        out[key].append(op)
    order.sort(key=lambda k: k[0])
    return [(k[0], k[1], k[2], out[k]) for k in order]


def _run_group(runner, tool, ns, ops, iptables):
    """Run one group; return (done_ops, failure) with failure None on success."""
    if tool == 'iptables':
        for i, op in enumerate(ops):
            rc, dummy, err = runner.run([iptables] + op.args)
            if rc != 0:
                return ops[:i], {'cmd': op.cmdline(), 'rc': rc, 'stderr': err.strip()}
        return ops, None
    if len(ops) == 1:
        argv = runner.ip_argv(ns, ops[0].args)
        rc, dummy, err = runner.run(argv)
        if rc != 0:
            return [], {'cmd': ops[0].cmdline(), 'rc': rc, 'stderr': err.strip()}
        return ops, None
    data = ''.join(' '.join(op.args) + '\n' for op in ops)
    rc, dummy, err = runner.run(runner.ip_argv(ns, ['-batch', '-']), data=data)
    if rc == 0:
        return ops, None
    m = BATCH_FAIL_RE.search(err)
    stderr = BATCH_FAIL_RE.sub('', err).strip()
    if m and 0 < int(m.group(1)) <= len(ops):
        n = int(m.group(1))
        return ops[:n - 1], {'cmd': ops[n - 1].cmdline(), 'rc': rc, 'stderr': stderr}
    # ip exited without naming the line: undo every create of the batch
    return ops, {'cmd': ' ; '.join(op.cmdline() for op in ops), 'rc': rc, 'stderr': stderr}


def apply(ops, runner, iptables=None):
    """Apply ops in phase order; on failure undo what this run created and
    raise NetnsError naming the failing command and its stderr."""
    done = []
    for phase in sorted({op.phase for op in ops}):
        groups = [g for g in _groups(ops) if g[0] == phase]
        if len(groups) > 1:
            with ThreadPoolExecutor(WORKERS) as pool:
                results = list(pool.map(
                    lambda g: _run_group(runner, g[1], g[2], g[3], iptables), groups))
        else:
            results = [_run_group(runner, g[1], g[2], g[3], iptables) for g in groups]
        failure = None
        for ran, fail in results:
            done.extend(ran)
            failure = failure or fail
        if failure:
            undone = undo(done, runner, iptables)
            raise NetnsError('{} failed: {}'.format(failure['cmd'], failure['stderr']),
                             cmd=failure['cmd'], rc=failure['rc'], stderr=failure['stderr'],
                             undone=undone)
    return done


def undo(done, runner, iptables=None):
    """Reverse the creating ops in ``done``; return the undo command lines."""
    out = []
    for op in reversed(done):
        u = op.undo
        if u is None:
            continue
        if u.tool == 'iptables':
            rc, dummy, err = runner.run([iptables] + u.args)
        else:
            rc, dummy, err = runner.run(runner.ip_argv(u.ns, u.args))
        out.append(u.cmdline() + ('' if rc == 0 else f' (failed: {err.strip()})'))
    return out
