# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node the engine acts on: commands through the netns Runner, files
(under ``root``, so unit tests use a temporary directory), and the listener
processes. Unit tests replace the runner and the process methods."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from ansible_collections.lab.multihost.plugins.module_utils.netns.runner import Runner, which

ETC = '/etc/lab/impair'                 # records: the declared experiments
RUN = '/run/lab-impair'                 # config, pid, stats and log of each listener
LIB = '/usr/local/lib/lab-multihost/impair'   # the engine copy (PYTHONPATH of the units)
PKG = LIB + '/ansible_collections/lab/multihost/plugins/module_utils'
LISTENER = PKG + '/impair/listener.py'
UNITS = '/etc/systemd/system'
SERVICE = 'lab-impair.service'
TEMPLATE = 'lab-impair-listener@.service'
WANTS = UNITS + '/multi-user.target.wants/' + SERVICE
# Where removing a file stops removing its parents that are left empty.
PRUNE_STOP = ('/etc', '/run', '/usr/local/lib', UNITS)
TOOLS = ('ip', 'tc', 'iptables', 'systemctl', 'cat', 'journalctl')


def unit_of(key):
    return f'lab-impair-listener@{key}.service'


def runtime(key, what):
    """/run/lab-impair/<key>.<what>: conf, pid, stats or log."""
    return f'{RUN}/{key}.{what}'


class Node:
    """Commands, files and processes of the node (``root`` prefixes every path)."""

    def __init__(self, runner=None, root='/', systemd=None, python=None):
        self.runner = runner or Runner()
        self.root = root
        self.systemd = os.path.isdir(self.path('/run/systemd/system')) if systemd is None else systemd
        self.python = python or sys.executable or '/usr/bin/python3'
        self._tools = {}
        self._children = {}
        self._netem = None

    # ---------------------------------------------------------- commands
    def tool(self, name):
        """The path of a command on the node, None when it is missing."""
        if name not in self._tools:
            self._tools[name] = which(name)
        return self._tools[name]

    def resolve(self, argv):
        """argv with its tool (and the one after ``ip netns exec NS``) as a path."""
        argv = list(argv)
        for i in (0, 4) if argv[1:3] == ['netns', 'exec'] else (0,):
            if len(argv) > i and argv[i] in TOOLS:
                argv[i] = self.tool(argv[i]) or argv[i]
        return argv

    def run(self, argv, data=None):
        try:
            return self.runner.run(self.resolve(argv), data=data)
        except FileNotFoundError:
            return 127, '', f'{argv[0]}: command not found'

    def has_netem(self):
        """Whether the kernel has sch_netem: tried once, in a throwaway namespace."""
        if self._netem is None:
            ns = f'labimp-probe-{os.getpid()}'
            if self.run(['ip', 'netns', 'add', ns])[0] != 0:
                self._netem = False
                return False
            try:
                self.run(['ip', '-n', ns, 'link', 'add', 'probe0', 'type', 'dummy'])
                self._netem = self.run(['tc', '-n', ns, 'qdisc', 'add', 'dev', 'probe0', 'root',
                                        'netem', 'delay', '1ms'])[0] == 0
            finally:
                self.run(['ip', 'netns', 'del', ns])
        return self._netem

    # ------------------------------------------------------------- files
    def path(self, p):
        return os.path.join(self.root, p.lstrip('/'))

    def read(self, p):
        try:
            with open(self.path(p), encoding='utf-8') as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self, p):
        return os.path.lexists(self.path(p))

    def listdir(self, p):
        try:
            return sorted(os.listdir(self.path(p)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def write(self, p, content, mode=0o644):
        """Atomically, creating parent directories."""
        full = self.path(p)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        tmp = f'{full}.tmp{os.getpid()}'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, full)

    def remove(self, p):
        """A file, a link or a whole tree; then its parents that are left empty."""
        full = self.path(p)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        elif os.path.lexists(full):
            os.unlink(full)
        parent = os.path.dirname(p.rstrip('/'))
        while parent not in PRUNE_STOP and parent not in ('/', '') and not self.listdir(parent) \
                and os.path.isdir(self.path(parent)):
            os.rmdir(self.path(parent))
            parent = os.path.dirname(parent)

    # --------------------------------------------------------- processes
    def process(self, pid):
        """{'state', 'cmdline'} of a live process, None if gone or a zombie."""
        try:
            with open(f'/proc/{int(pid)}/stat', encoding='utf-8') as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
            with open(f'/proc/{int(pid)}/cmdline', 'rb') as f:
                cmdline = f.read().decode('utf-8', 'replace').split('\0')
        except (OSError, ValueError, IndexError):
            return None
        if state in ('Z', 'X'):
            self._reap(pid)
            return None
        return {'state': state, 'cmdline': [a for a in cmdline if a]}

    def _reap(self, pid):
        child = self._children.pop(int(pid), None)
        if child is not None:
            child.poll()

    def signal(self, pid, sig):
        try:
            os.kill(int(pid), sig)
        except ProcessLookupError:
            pass

    def spawn(self, argv, log):
        """Start argv detached (a new session, stdio to ``log``); its pid."""
        os.makedirs(os.path.dirname(self.path(log)), mode=0o755, exist_ok=True)
        with open(self.path(log), 'ab') as out:
            child = subprocess.Popen(self.resolve(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     cwd='/', start_new_session=True, close_fds=True)
        self._children[child.pid] = child
        return child.pid

    def exited(self, pid):
        """True when a process this node spawned has exited."""
        child = self._children.get(int(pid))
        return child is not None and child.poll() is not None

    def sleep(self, seconds):
        time.sleep(seconds)

    def refresh_stats(self, pid, stats, timeout=0.5):
        """SIGUSR1 to a running listener, then its stats file once rewritten (None if not in time)."""
        full = self.path(stats)
        try:
            st = os.stat(full)
            before = (st.st_ino, st.st_mtime_ns)  # the listener replaces the file: a new inode
        except OSError:
            before = None
        self.signal(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sleep(0.02)
            try:
                st = os.stat(full)
                if (st.st_ino, st.st_mtime_ns) != before:
                    with open(full, encoding='utf-8') as f:
                        return json.loads(f.read())
            except (OSError, ValueError):
                continue
        return None

    def kill_wait(self, pid, timeout=5.0):
        """SIGTERM, then SIGKILL after ``timeout``; True once the process is gone."""
        self.signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process(pid) is not None:
            if time.monotonic() > deadline:
                self.signal(pid, signal.SIGKILL)
                self.sleep(0.1)
                return self.process(pid) is None
            self.sleep(0.05)
        return True
