# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a node holds now, read in one module run (lab.multihost.node_state); plan/ compares
it with what the stage wants, so only the tasks that change something reach the node.

Pure parsers of each tool's output, and one reader that runs the tools through a
``run(argv) -> (rc, stdout, stderr)`` callable (the module's run_command, or a fake
in the unit tests) and asks the Docker Engine API through an ``api(path) -> data or
None`` callable (engine_api: its unix socket; a few milliseconds a request, where each
``docker`` command costs a process start). Standard library only.
"""

import base64
import grp
import hashlib
import http.client
import json
import os
import pwd
import socket
import stat

DOCKER_SOCKET = '/var/run/docker.sock'


def file_facts(path):
    """{exists, type, mode ('0644'), mtime, owner, group, checksum (sha1 of a regular file),
    target (of a symbolic link)} of one path."""
    try:
        st = os.lstat(path)
    except OSError:
        return {'exists': False}
    facts = {'exists': True, 'mode': f'{stat.S_IMODE(st.st_mode):04o}', 'mtime': st.st_mtime,
             'owner': _name(pwd.getpwuid, st.st_uid), 'group': _name(grp.getgrgid, st.st_gid)}
    if stat.S_ISREG(st.st_mode):
        facts['type'] = 'file'
        digest = hashlib.sha1()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 16), b''):
                digest.update(block)
        facts['checksum'] = digest.hexdigest()
    elif stat.S_ISDIR(st.st_mode):
        facts['type'] = 'directory'
    elif stat.S_ISLNK(st.st_mode):
        facts['type'] = 'link'
        facts['target'] = os.readlink(path)
    else:
        facts['type'] = 'other'
    return facts


def file_contents(path):
    """A small file's bytes, base64-encoded; None when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            return base64.b64encode(f.read()).decode('ascii')
    except OSError:
        return None


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def parse_units(names, text):
    """`systemctl show -p LoadState,UnitFileState,ActiveState NAME...`: one block per unit, in order."""
    blocks = text.strip().split('\n\n') if text.strip() else []
    out = {}
    for name, block in zip(names, blocks):
        props = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        out[name] = {'loaded': props.get('LoadState') == 'loaded',
                     'enabled': props.get('UnitFileState') == 'enabled',
                     'active': props.get('ActiveState') == 'active'}
    for name in names[len(blocks):]:
        out[name] = {'loaded': False, 'enabled': False, 'active': False}
    return out


def parse_packages(names, text):
    """`dpkg-query -W -f '${Package} ${db:Status-Status} ${Version}\\n' NAME...`: installed versions."""
    seen = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == 'installed':
            seen[parts[0]] = parts[2]
    return {name: seen.get(name) for name in names}


def parse_containers(inspected):
    """`docker inspect` of every container: name -> {running, status, image, labels, networks, restart_policy}."""
    out = {}
    for c in inspected:
        out[c['Name'].lstrip('/')] = {
            'running': c['State'].get('Running', False),
            'status': c['State'].get('Status', ''),
            'image': c['Config'].get('Image', ''),
            'labels': c['Config'].get('Labels') or {},
            'networks': sorted((c.get('NetworkSettings') or {}).get('Networks') or {}),
            'restart_policy': ((c.get('HostConfig') or {}).get('RestartPolicy') or {}).get('Name', ''),
        }
    return out


def parse_networks(inspected):
    """`docker network inspect` of every network: name -> {id, driver, scope, subnets}."""
    return {n['Name']: {'id': n['Id'], 'driver': n['Driver'], 'scope': n.get('Scope', ''),
                        'subnets': [c.get('Subnet') for c in ((n.get('IPAM') or {}).get('Config') or [])]}
            for n in inspected}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__('localhost', timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def engine_api(path, socket_path=DOCKER_SOCKET, timeout=10):
    """GET one Docker Engine API path through its unix socket: the decoded JSON, or None when
    the engine does not answer it (no socket, no engine, an error status)."""
    conn = _UnixConnection(socket_path, timeout)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        body = resp.read()
        return json.loads(body) if resp.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def module_run(module):
    """The reader's ``run`` over an AnsibleModule's run_command, in the C locale. A tool that is
    not installed yet (a fresh node) reads as a failed command."""
    def run(argv):
        try:
            return module.run_command(argv, environ_update={'LC_ALL': 'C'}, handle_exceptions=False)
        except OSError as exc:
            return 127, '', str(exc)
    return run


class NodeReader:
    """Reads the parts of a node's state a stage asks for; every part is optional."""

    def __init__(self, run, api=engine_api):
        self.run = run
        self.api = api

    def units(self, names):
        if not names:
            return {}
        rc, out, _err = self.run(['systemctl', 'show', '-p', 'LoadState,UnitFileState,ActiveState', '--'] + names)
        return parse_units(names, out if rc == 0 else '')

    def packages(self, names):
        if not names:
            return {}
        _rc, out, _err = self.run(['dpkg-query', '-W', '-f', '${Package} ${db:Status-Status} ${Version}\n'] + names)
        return parse_packages(names, out)

    def docker(self):
        """None without an answering engine; else version, swarm state, networks, containers, image references."""
        version = self.api('/version')
        if not version:
            return None
        swarm = (self.api('/info') or {}).get('Swarm') or {}
        listed = self.api('/containers/json?all=1') or []
        inspected = [self.api(f"/containers/{c['Id']}/json") for c in listed]
        return {'version': version.get('Version', ''), 'swarm': swarm.get('LocalNodeState', 'inactive'),
                'swarm_control': bool(swarm.get('ControlAvailable')), 'swarm_node_id': swarm.get('NodeID') or '',
                'networks': parse_networks(self.api('/networks') or []),
                'containers': parse_containers(c for c in inspected if c),
                'images': sorted({tag for image in self.api('/images/json') or [] for tag in image.get('RepoTags') or []
                                  if tag != '<none>:<none>'})}

    def nft_table_matches(self, table, ruleset):
        """Whether the kernel holds `table` as loading `ruleset` makes it (loaded in a scratch network
        namespace, both printed without counter values); False when either cannot be read."""
        family, name = table.split()
        rc, live, _err = self.run(['nft', '-s', 'list', 'table', family, name])
        if rc != 0:
            return False
        rc, want, _err = self.run(['unshare', '--net', 'sh', '-c', 'nft -f "$1" && nft -s list table "$2" "$3"',
                                   'sh', ruleset, family, name])
        return rc == 0 and live == want

    def etcd_healthy(self, endpoint, cacert=None, cert=None, key=None):
        """Whether the etcd member at ``endpoint`` answers healthy (etcdctl, v3 API); False when it
        does not answer in time or etcdctl is not installed."""
        tls = [f'--{name}={path}' for name, path in (('cacert', cacert), ('cert', cert), ('key', key)) if path]
        rc, _out, _err = self.run(['etcdctl', f'--endpoints={endpoint}', '--dial-timeout=2s', '--command-timeout=5s']
                                  + tls + ['endpoint', 'health'])
        return rc == 0

    def read(self, files=(), units=(), packages=(), docker=False, nft=None, contents=(),
             etcd_health=None):
        state = {'files': {p: file_facts(p) for p in files},
                 'units': self.units(list(units)),
                 'packages': self.packages(list(packages))}
        if docker:
            state['docker'] = self.docker()
        if nft:
            state['nft'] = {nft['table']: self.nft_table_matches(nft['table'], nft['ruleset'])}
        if contents:
            state['contents'] = {p: file_contents(p) for p in contents}
        if etcd_health:
            state['etcd_healthy'] = self.etcd_healthy(**etcd_health)
        return state
