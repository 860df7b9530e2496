# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Applying a plan: the operations in order. On a failure the undo of every
operation that ran is run, last first, and the error names the failing
operation, its stderr and what was undone."""

from ansible_collections.lab.multihost.plugins.module_utils.impair.node import runtime
from ansible_collections.lab.multihost.plugins.module_utils.impair.validate import ImpairError

START_TIMEOUT = 5.0


class Failed(Exception):
    def __init__(self, rc, stderr):
        super().__init__(stderr)
        self.rc, self.stderr = rc, stderr


def _pid(node, key):
    text = (node.read(runtime(key, 'pid')) or '').strip()
    return int(text) if text.isdigit() else None


def _ours(node, pid, key):
    proc = node.process(pid) if pid else None
    return bool(proc) and runtime(key, 'pid') in proc['cmdline']


def _tail(node, key):
    text = (node.read(runtime(key, 'log')) or '').strip().splitlines()
    return ' | '.join(text[-5:])


def start(node, op):
    """Start a listener (its unit, or detached) and wait for its pidfile."""
    key = op.args['key']
    pidfile = runtime(key, 'pid')
    if node.exists(pidfile) and not _ours(node, _pid(node, key), key):
        node.remove(pidfile)  # left by a listener that was killed
    child = None
    if node.systemd:
        rc, dummy, err = node.run(['systemctl', 'start', '--no-block', op.args['unit']])
        if rc != 0:
            raise Failed(rc, err.strip())
    else:
        child = node.spawn(op.args['argv'], runtime(key, 'log'))
    waited = 0.0
    while waited < START_TIMEOUT:
        pid = _pid(node, key)
        if pid and _ours(node, pid, key):
            return
        if child is not None and node.exited(child):
            raise Failed(1, 'the listener exited: ' + (_tail(node, key) or 'no output'))
        node.sleep(0.05)
        waited += 0.05
    if child is not None:
        node.kill_wait(child)
    where = (f"journalctl -u {op.args['unit']}" if node.systemd else runtime(key, 'log'))
    raise Failed(1, f'the listener wrote no pidfile within {START_TIMEOUT:g} s (see {where}): {_tail(node, key)}')


def stop(node, op):
    """Stop a listener: its unit, then (started directly) SIGTERM to the pid of its pidfile."""
    key = op.args['key']
    if node.systemd:
        rc, dummy, err = node.run(['systemctl', 'stop', op.args['unit']])
        if rc != 0:
            raise Failed(rc, err.strip())
    pid = _pid(node, key)
    if pid and _ours(node, pid, key) and not node.kill_wait(pid):
        raise Failed(1, f'the listener (pid {pid}) did not stop')
    node.remove(runtime(key, 'pid'))


def run_op(node, op):
    if op.kind == 'cmd':
        rc, dummy, err = node.run(op.args['argv'])
        if rc != 0:
            raise Failed(rc, err.strip())
    elif op.kind == 'write':
        node.write(op.args['path'], op.args['content'], op.args.get('mode', 0o644))
    elif op.kind == 'remove':
        node.remove(op.args['path'])
    elif op.kind == 'install':
        for path, text in op.args['files'].items():
            node.write(path, text)
    elif op.kind == 'start':
        start(node, op)
    elif op.kind == 'stop':
        stop(node, op)
    else:
        raise ValueError(f'unknown operation kind {op.kind!r}')


def apply(ops, node):
    """Run ``ops`` in order; on failure undo what ran and raise ImpairError."""
    done = []
    for op in ops:
        try:
            run_op(node, op)
        except (Failed, OSError) as exc:
            rc = getattr(exc, 'rc', 1)
            stderr = getattr(exc, 'stderr', None) or str(exc)
            undone = undo(done, node)
            raise ImpairError(f'{op.line} failed: {stderr}', cmd=op.line, rc=rc, stderr=stderr,
                              undone=undone) from None
        done.append(op)
    return done


def undo(done, node):
    """Run the undo of each op in ``done``, last first; the lines (a failure is noted, not raised)."""
    out = []
    for op in reversed(done):
        for u in op.undo:
            try:
                run_op(node, u)
                out.append(u.line)
            except (Failed, OSError) as exc:
                out.append(f"{u.line} (failed: {getattr(exc, 'stderr', None) or exc})")
    return out
