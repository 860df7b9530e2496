"""Mutation check of the recovery engine: remove each of its rules in turn and show that
tests/unit/plugins/module_utils/test_overlay_recover.py fails. The file is put back after.

usage: .venv/bin/python scripts/recover_mutations.py   (seconds; one line per rule, exit 1 if one survived)
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENGINE = ROOT / "plugins" / "module_utils" / "overlay_recover.py"
TESTS = ROOT / "tests" / "unit" / "plugins" / "module_utils" / "test_overlay_recover.py"

# (rule, text in the engine, what replaces it)
MUTATIONS = [
    ('sign: restore failed',
     "    (re.compile(r'Failure during overlay endpoints restore'), RESTORE_FAILED),\n",
     ''),
    ('sign: restored without address',
     "    (re.compile(r' <nil> [0-9]+ [0-9]+ true\\}'), RESTORED_WITHOUT_ADDRESS),\n",
     ''),
    ('sign: peer without address',
     "    (re.compile(r'isLocal:false vtep:<nil>'), PEER_WITHOUT_ADDRESS),\n",
     ''),
    ('sign: lost gossip identity',
     "SWARM_SIGNS = ((re.compile(r'is unknown to memberlist'), LOST_IDENTITY),)",
     'SWARM_SIGNS = ()'),
    ('start error: failed to update store',
     "START_ERRORS = ('failed to update store', ",
     'START_ERRORS = ('),
    ('start error: sandbox join',
     "'network sandbox join failed', ",
     ''),
    ('start error: Could not attach',
     "'Could not attach to network',\n",
     '\n'),
    ('start error: attaching failed',
     "'attaching to network failed', ",
     ''),
    ('start error: failed get netns',
     "'failed get network namespace', ",
     ''),
    ('start error: already exists',
     ", 'already exists in network')",
     ')'),
    ('stray thread rule',
     '    return bool(stray_threads(samples[0]) & stray_threads(samples[1]))',
     '    return False'),
    ('stray needs two samples',
     '    if len(samples) < 2:\n        return False\n'
     '    return bool(stray_threads(samples[0]) & stray_threads(samples[1]))',
     '    return bool(samples and stray_threads(samples[0]))'),
    ("only this node's record is cleared",
     '        if not recorded_here(obs.endpoints.get(network, ()), name, obs.advertise):',
     '        if False:'),
    ("a running container's endpoint stays",
     '        elif name not in stopped:',
     '        elif False:'),
    ('restart limit',
     '    if reason and restarts >= MAX_RESTARTS:',
     '    if False:'),
    ('restart policy (stopped by hand stays stopped)',
     '    if container.policy not in RESTART_POLICIES or container.status not in PENDING_STATUSES:',
     '    if container.status not in PENDING_STATUSES:'),
    ('boot queues the restart',
     "            self.run(['systemctl', 'restart', '--no-block', 'docker.service'])\n            return True",
     '            pass'),
    ('start limit cleared',
     "        self.run(['systemctl', 'reset-failed', 'docker.service'])\n        rc, _out",
     '        rc, _out'),
    ('clean start resets the count',
     '            self.files.remove(RESTARTS_FILE)  # a clean start',
     '            pass  # a clean start'),
    ('swarm waits',
     '        if not self.wait_for(SWARM_WAIT, lambda: swarm_settled(self.swarm_state())):',
     '        if False:'),
    ('the store daemon.json names',
     '                   for e in self.store_endpoints() or [None])',
     '                   for e in [None])'),
    ('swarm pauses after an unclean stop',
     "    return GOSSIP_FORGET if backend == SWARM and running is not None else 0",
     '    return 0'),
    ('a swarm worker waits for its manager',
     "        manager = joined_through(self.files.read(SWARM_STATE)) if backend == SWARM else None",
     '        manager = None'),
    ('only a swarm node waits for a manager',
     "        manager = joined_through(self.files.read(SWARM_STATE)) if backend == SWARM else None",
     '        manager = joined_through(self.files.read(SWARM_STATE))'),
    ('a fallback ping is a small message',
     "    return 'ping' if len(first) <= PING_MAX else 'push-pull'",
     "    return 'ping'"),
    ('the second connection of one kind decides',
     '        if key in seen:\n            return address',
     '        return address'),
    ('one kind and one peer at a time',
     "        key = (address, gossip_kind(first))",
     "        key = 'any'"),
    ('a connection that sent nothing is not counted',
     '        if not first:\n            continue\n',
     ''),
    ('only a node that joined through a manager listens',
     '        if pause and manager:',
     '        if pause:'),
    ('the wait listens on the gossip port',
     '            connections = self.listen(pause)',
     '            connections = []'),
    ('the gossip port is closed unanswered',
     '            with conn:\n                conn.settimeout(FIRST_BYTES_WAIT)',
     '            if conn:\n                conn.settimeout(FIRST_BYTES_WAIT)'),
    ('a lost identity leaves its mark',
     "            self.files.write(RUNNING_FILE, LOST_MARK)\n",
     '            pass\n'),
    ('only a clean stop clears the mark',
     "        if result == 'success' and self.files.read(RUNNING_FILE) != LOST_MARK:",
     "        if result == 'success':"),
    ('a crash keeps the mark',
     "        if result == 'success' and self.files.read(RUNNING_FILE) != LOST_MARK:",
     "        if self.files.read(RUNNING_FILE) != LOST_MARK:"),
]


def main():
    orig = ENGINE.read_text()
    survived = 0
    try:
        for name, old, new in MUTATIONS:
            if old not in orig:
                print(f"{name:48} not applied: the engine's text changed")
                survived += 1
                continue
            ENGINE.write_text(orig.replace(old, new, 1))
            res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", str(TESTS)], cwd=ROOT,
                                 capture_output=True, text=True, check=False)
            last = res.stdout.strip().splitlines()[-1]
            survived += res.returncode == 0
            print(f"{name:48} {'caught' if res.returncode else 'SURVIVED'}: {last}")
    finally:
        ENGINE.write_text(orig)
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
