# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker container inspection for container_netns_info: running containers
from ``docker ps``/``docker inspect``, their interfaces read with ``nsenter
--net=<SandboxKey> ip -j``, and for every container veth the other end, on
the host or in another of Docker's namespaces (an overlay's ``1-<netid>``)."""

import json
import os
import re

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import HOST, NetnsError
from ansible_collections.lab.multihost.plugins.module_utils.netns.runner import Runner, parse_json, which
from ansible_collections.lab.multihost.plugins.module_utils.netns.state import parse_links

DOCKER_NETNS = '/var/run/docker/netns'


def match_peer(iface, candidates, own=None):
    """Find the other end of a veth seen inside a container.

    iface: link_view of the container's interface.  candidates: list of
    (label, {name: link_view}) for the host and other namespaces.  The peer
    is the veth whose ifindex is iface's peer_ifindex and whose own peer
    index is iface's ifindex.  Returns (label, link_view) or (None, None).
    """
    if iface['kind'] != 'veth' or iface['peer_ifindex'] is None:
        return None, None
    hits = []
    for label, links in candidates:
        if label == own:
            continue
        for link in links.values():
            if (link['kind'] == 'veth' and link['ifindex'] == iface['peer_ifindex']
                    and link['peer_ifindex'] == iface['ifindex']):
                hits.append((label, link))
    if len(hits) == 1:
        return hits[0]
    return (None, None) if not hits else hits[0]


def docker_containers(runner, names=None, docker='docker'):
    """``docker inspect`` of running containers (all, or those named)."""
    if names:
        ids = list(names)
    else:
        rc, out, err = runner.run([docker, 'ps', '-q', '--no-trunc'])
        if rc != 0:
            raise NetnsError(f'docker ps failed: {err.strip()}', cmd='docker ps -q',
                             stderr=err.strip())
        ids = out.split()
    if not ids:
        return []
    rc, out, err = runner.run([docker, 'inspect', '--type', 'container'] + ids)
    if rc != 0 and not names:
        # a container listed by ps may be gone by now: keep the ones still there
        found = []
        for cid in ids:
            rc, out, err = runner.run([docker, 'inspect', '--type', 'container', cid])
            if rc == 0:
                found.extend(json.loads(out))
        return [c for c in found if (c.get('State') or {}).get('Running')]
    if rc != 0:
        raise NetnsError(f'docker inspect failed: {err.strip()}',
                         cmd='docker inspect ' + ' '.join(ids), stderr=err.strip())
    return [c for c in json.loads(out) if (c.get('State') or {}).get('Running')]


def read_path_json(runner, path, argv):
    """JSON output of ``argv`` run in the network namespace bound at ``path`` (nsenter)."""
    nsenter = which('nsenter') or 'nsenter'
    argv = [nsenter, '--net=' + path] + list(argv)
    rc, out, err = runner.run(argv)
    if rc != 0:
        raise NetnsError(f'reading {path} failed: {err.strip()}',
                         cmd=' '.join(argv), stderr=err.strip())
    return parse_json(out)


def read_path_links(runner, path):
    """Links of the network namespace bound at ``path`` (nsenter + ip -j)."""
    return parse_links(read_path_json(runner, path, [runner.ip, '-j', '-d', 'addr', 'show']))


def docker_netns_dir_entries(path=DOCKER_NETNS):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def describe_container(c, links, host_links, others, networks):
    """The container_netns_info answer for one container.

    links: its link_views; host_links: the host's; others: [(path, links)]
    of Docker's other namespaces; networks: {network id: name}.
    """
    ns = c.get('NetworkSettings') or {}
    entry = {
        'id': c.get('Id'),
        'name': (c.get('Name') or '').lstrip('/'),
        'pid': (c.get('State') or {}).get('Pid'),
        'sandbox_key': ns.get('SandboxKey'),
        'networks': sorted((ns.get('Networks') or {}).keys()),
        'interfaces': [],
    }
    cands = [('host', host_links)] + list(others)
    for name in sorted(links, key=lambda n: links[n]['ifindex'] or 0):
        link = links[name]
        item = {'name': name, 'ifindex': link['ifindex'], 'kind': link['kind'],
                'mtu': link['mtu'], 'addresses': link['addresses'], 'up': link['up'],
                'peer': None}
        where, peer = match_peer(link, cands, own=entry['sandbox_key'])
        if peer:
            p = {'name': peer['name'], 'ifindex': peer['ifindex'], 'bridge': peer['master'],
                 'namespace': 'host' if where == 'host' else where}
            if where != 'host':
                base = os.path.basename(where)
                p['namespace_kind'] = 'overlay' if re.match(r'^\d+-', base) else 'docker'
                netid = base.split('-', 1)[1] if '-' in base else None
                if netid:
                    for nid, nname in networks.items():
                        if nid.startswith(netid):
                            p['network'] = nname
                            p['network_id'] = nid
            item['peer'] = p
        entry['interfaces'].append(item)
    return entry


def container_info(runner=None, names=None, docker='docker', netns_dir=DOCKER_NETNS):
    runner = runner or Runner()
    docker = which(docker) or docker
    return describe_containers(runner, docker_containers(runner, names, docker), netns_dir, strict=bool(names))


def describe_containers(runner, containers, netns_dir=DOCKER_NETNS, strict=False):
    """describe_container for each of ``containers`` (``docker inspect``
    entries); one that stops while we look is left out, unless ``strict``."""
    host = parse_links(runner.ip_json(HOST, ['-d', 'addr', 'show']))
    others = []
    sandboxes = {(c.get('NetworkSettings') or {}).get('SandboxKey') for c in containers}
    cache = {}
    for base in docker_netns_dir_entries(netns_dir):
        path = os.path.join(netns_dir, base)
        if path in sandboxes:
            continue
        try:
            others.append((path, read_path_links(runner, path)))
        except NetnsError:
            continue  # a namespace going away while we look
    networks = {}
    for c in containers:
        for nname, net in ((c.get('NetworkSettings') or {}).get('Networks') or {}).items():
            if net.get('NetworkID'):
                networks[net['NetworkID']] = nname
    out = []
    for c in containers:
        key = (c.get('NetworkSettings') or {}).get('SandboxKey')
        pid = (c.get('State') or {}).get('Pid')
        path = key if key and os.path.exists(key) else f'/proc/{pid}/ns/net'
        if path not in cache:
            try:
                cache[path] = read_path_links(runner, path)
            except NetnsError:
                if strict:
                    raise
                continue  # stopped while we looked
        out.append(describe_container(c, cache[path], host, others, networks))
    return out
