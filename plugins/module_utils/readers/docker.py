# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Docker Engine through its API on the unix socket (a few milliseconds a request, where each
``docker`` command costs a process start): version, swarm state, networks, containers, images."""

import http.client
import json
import socket

DOCKER_SOCKET = '/var/run/docker.sock'


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


def read_engine(api=engine_api):
    """None without an answering engine; else version, swarm state, networks, containers, image references."""
    version = api('/version')
    if not version:
        return None
    swarm = (api('/info') or {}).get('Swarm') or {}
    listed = api('/containers/json?all=1') or []
    inspected = [api(f"/containers/{c['Id']}/json") for c in listed]
    return {'version': version.get('Version', ''), 'swarm': swarm.get('LocalNodeState', 'inactive'),
            'swarm_control': bool(swarm.get('ControlAvailable')), 'swarm_node_id': swarm.get('NodeID') or '',
            'networks': parse_networks(api('/networks') or []),
            'containers': parse_containers(c for c in inspected if c),
            'images': sorted({tag for image in api('/images/json') or [] for tag in image.get('RepoTags') or []
                              if tag != '<none>:<none>'})}
