# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the engine runs commands: iproute2 (and iptables, docker, nsenter)
with a C locale. A Runner is the seam between the engine and the node: the
modules and the engine's own callers use this one, unit tests a fake.

It runs commands with subprocess, not AnsibleModule.run_command: run_command
always passes a preexec_fn, which makes every command a full fork() of the
module process instead of a vfork(); with hundreds of ``ip`` calls (four at
a time) that made a 100-namespace topology about twice as slow to build."""

import json
import os
import shutil
import subprocess

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import HOST, NetnsError


class Runner:
    """Runs iproute2 (and iptables) with a C locale, through subprocess."""

    def __init__(self, ip=None):
        self.ip = ip or which('ip') or 'ip'
        self.env = dict(os.environ, LC_ALL='C', LANG='C')

    def run(self, argv, data=None, env=None):
        """(rc, stdout, stderr) of argv; ``env`` adds variables to the C locale's."""
        proc = subprocess.run(argv, input=data, capture_output=True,
                              env=dict(self.env, **env) if env else self.env,
                              text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def ip_argv(self, ns, args):
        return [self.ip] + (['-n', ns] if ns is not HOST else []) + list(args)

    def ip_json(self, ns, args, prefix=None):
        argv = (prefix or []) + self.ip_argv(ns, ['-j'] + list(args))
        rc, out, err = self.run(argv)
        if rc != 0:
            raise NetnsError('reading state failed: {}'.format(' '.join(argv)),
                             cmd=' '.join(argv), rc=rc, stderr=err.strip())
        return parse_json(out)


def which(name):
    """Path of ``name`` on PATH or in the sbin/bin directories, else None."""
    path = shutil.which(name)
    if path:
        return path
    for d in ('/usr/sbin', '/sbin', '/usr/bin', '/bin'):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def parse_json(text):
    text = (text or '').strip()
    return json.loads(text) if text else []
