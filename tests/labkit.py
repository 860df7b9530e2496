"""Helpers for the project's tests and benchmarks.

One module for what tests, fixtures and tooling share, so each thing is done
one way. pytest finds it through ``pythonpath`` in pyproject.toml (``import
labkit``); a script elsewhere puts this directory on ``sys.path`` itself. It
imports nothing from the project's plugins: tests that drive the engine
import ``ansible_collections.lab.multihost...`` directly (``.cache/collections``
is on pytest's pythonpath too).

Sections: the repository and commands; running Ansible; network namespaces
on this machine (the netns integration tests).
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# --------------------------------------------------- the repository, commands

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / '.venv' / 'bin'
VENV_PY = VENV_BIN / 'python'
ANSIBLE = VENV_BIN / 'ansible'
ANSIBLE_CFG = REPO / 'ansible.cfg'


def sh(*argv, check=True):
    """Run argv (no shell), capture text output; fail the test when check and rc != 0."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f'{argv} failed: {proc.stderr}')
    return proc


# ------------------------------------------------------------ running Ansible

def run_module(module, args, check=False, diff=True):
    """Run a module on localhost as Ansible does (ad hoc, the project's
    ansible.cfg, JSON callback); return that host's result dict.

    module: a fully qualified name, e.g. ``lab.multihost.veth``."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE_CFG),
               ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_LOAD_CALLBACK_PLUGINS='1',
               ANSIBLE_CALLBACKS_ENABLED='ansible.builtin.json',
               ANSIBLE_NOCOLOR='1')
    argv = [str(ANSIBLE), 'localhost', '-i', 'localhost,', '-c', 'local',
            '-m', module, '-a', json.dumps(args),
            '-e', f'ansible_python_interpreter={VENV_PY}']
    if check:
        argv.append('--check')
    if diff:
        argv.append('--diff')
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=str(REPO), env=env,
                          check=False)
    out = proc.stdout
    start = out.find('{')
    assert start >= 0, f'no JSON from ansible: {out}\n{proc.stderr}'
    data = json.loads(out[start:])
    return data['plays'][0]['tasks'][0]['hosts']['localhost']


# ============================================================================
# Network namespaces on this machine (tests/integration): real namespaces,
# veths and bridges; needs root and iproute2. Every object a test makes is
# named with a random prefix ``t<6 hex>`` and removed afterwards, even on
# failure (``cleanup``); nothing else on the host is touched.
# ============================================================================

def ip_json(*args, ns=None):
    argv = ['ip'] + (['-n', ns] if ns else []) + ['-j'] + list(args)
    out = sh(*argv).stdout.strip()
    return json.loads(out) if out else []


def netns_names():
    return [e['name'] for e in ip_json('netns', 'list')]


def links(ns=None):
    return {e['ifname']: e for e in ip_json('-d', 'addr', 'show', ns=ns)}


def cleanup(prefix):
    """Remove the host links, namespaces and DOCKER-USER rules named with prefix."""
    for name in links():
        if name.startswith(prefix):
            sh('ip', 'link', 'del', name, check=False)
    for ns in netns_names():
        if ns.startswith(prefix):
            sh('ip', 'netns', 'del', ns, check=False)
    if shutil.which('iptables'):
        rules = sh('iptables', '-w', '-S', 'DOCKER-USER', check=False).stdout.splitlines()
        for rule in rules:
            if rule.startswith('-A ') and f' {prefix}' in rule:
                sh('iptables', '-w', *rule.replace('-A ', '-D ', 1).split(), check=False)
    # namespace teardown is asynchronous: wait for host peers to go
    for _attempt in range(50):
        if not [n for n in links() if n.startswith(prefix)]:
            break
        time.sleep(0.1)


def reach(src_ns, dst_ns, addr):
    """True if src_ns reaches addr (held in dst_ns): one bounded ping, or,
    without iputils-ping, a TCP connect to a one-shot python listener."""
    ping = shutil.which('ping')
    if ping:
        proc = sh('ip', 'netns', 'exec', src_ns, ping, '-c', '1', '-W', '2', addr, check=False)
        return proc.returncode == 0
    py = sys.executable
    # SO_REUSEADDR: the previous check's listener may have left 7777 in TIME_WAIT
    listener = subprocess.Popen(
        ['ip', 'netns', 'exec', dst_ns, py, '-c',
         'import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);'
         's.bind((sys.argv[1],7777));s.listen();s.settimeout(5);s.accept()', addr])
    try:
        for _attempt in range(20):
            proc = sh('ip', 'netns', 'exec', src_ns, py, '-c',
                      'import socket,sys;socket.create_connection((sys.argv[1],7777),2)', addr,
                      check=False)
            if proc.returncode == 0:
                return True
            if 'refused' not in proc.stderr:
                return False
            time.sleep(0.1)
        return False
    finally:
        listener.kill()
        listener.wait()
