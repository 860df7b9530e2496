# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""overlay-recover as a command on the node (overlay-recover.service, docker.service's hooks)."""

from __future__ import annotations

import json
import os
import sys
import time

from ansible_collections.lab.multihost.plugins.module_utils.recovery.act import (
    NodeRunner,
)
from ansible_collections.lab.multihost.plugins.module_utils.recovery.observe import (
    RecoverFailed,
    gossip_connections,
    local_run,
    tcp_connects,
)

USAGE = 'usage: overlay_recover.py [--boot|--repair|--check|--before-start|--after-stop]'
MODES = ('--boot', '--repair', '--check', '--before-start', '--after-stop')


def main(argv=None, run=local_run, files=None, sleep=time.sleep, out=None, err=None, connects=tcp_connects,
         listen=gossip_connections):
    """Run one mode on this node; returns the exit code (0 done, 1 failed, 2 usage).

    --boot (default) as overlay-recover.service: a needed dockerd restart is
    queued; --repair: restart dockerd and wait for it; --check: print the
    plan as JSON and change nothing; --before-start and --after-stop: docker.service's
    ExecStartPre and ExecStopPost (the latter reads SERVICE_RESULT)."""
    args = sys.argv[1:] if argv is None else list(argv)
    out, err = out or sys.stdout, err or sys.stderr
    mode = args[0] if args else '--boot'
    if len(args) > 1 or mode not in MODES:
        _write(err, USAGE)
        return 2
    runner = NodeRunner(run, files=files, sleep=sleep, echo=lambda line: _write(out, line), connects=connects,
                        listen=listen)
    try:
        if mode == '--check':
            _write(out, json.dumps(runner.check().to_json()))
        elif mode == '--before-start':
            runner.before_start()
        elif mode == '--after-stop':
            runner.after_stop(os.environ.get('SERVICE_RESULT', ''))
        else:
            runner.recover(boot=mode == '--boot')
    except RecoverFailed as exc:
        _write(err, exc.line)
        return 1
    return 0


def _write(stream, line):
    stream.write(line + '\n')
    stream.flush()
