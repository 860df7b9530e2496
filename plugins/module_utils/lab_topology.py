# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One node's network topology for lab_topology_info, read-only.

Namespaces (the host's, ``ip netns`` ones, Docker's under /var/run/docker/netns:
containers' sandboxes and overlays' ``<n>-<netid>``), each read with one
``ip -j -d addr show``; veth pairs and bridges from those links; every
overlay's bridge, VXLAN device, VNI and forwarding entries (``bridge -j fdb
show dev vxlan0`` inside its namespace); Docker networks; containers as
container_netns_info reports them (netns_docker), with their endpoints;
etcd members and health; the overlay backend fact. Commands run through a
Runner (netns_runner)."""

import json
import os
import re
import socket
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import HOST, WORKERS, NetnsError
from ansible_collections.lab.multihost.plugins.module_utils.netns.docker import (
    DOCKER_NETNS,
    describe_containers,
    docker_containers,
    docker_netns_dir_entries,
    match_peer,
    read_path_json,
)
from ansible_collections.lab.multihost.plugins.module_utils.netns.runner import Runner, parse_json, which
from ansible_collections.lab.multihost.plugins.module_utils.netns.state import link_view

OVERLAY_NS = re.compile(r'^\d+-([0-9a-z]+)$')  # overlay IDs: hex (cluster store), base 36 (swarm)
MTU_OPTION = 'com.docker.network.driver.mtu'
BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name'
VNI_OPTION = 'com.docker.network.driver.overlay.vxlanid_list'


# ------------------------------------------------------------------ parsing

def topology_link(entry):
    """link_view of one ``ip -j -d addr`` entry, plus its MAC and, for a
    VXLAN device, its VNI and UDP port."""
    view = link_view(entry)
    view['mac'] = entry.get('address')
    info = entry.get('linkinfo') or {}
    if info.get('info_kind') == 'vxlan':
        data = info.get('info_data') or {}
        view['vni'] = data.get('id')
        view['port'] = data.get('port')
    return view


def parse_topology_links(entries):
    """[topology_link] of ``ip -j -d addr show`` output, by ifindex."""
    links = [topology_link(e) for e in entries if 'ifname' in e]
    return sorted(links, key=lambda link: link['ifindex'] or 0)


def parse_fdb(entries):
    """VXLAN forwarding entries (those with a remote ``dst``) of ``bridge -j fdb show``."""
    out = []
    for e in entries:
        if e.get('dst'):
            out.append({'mac': e.get('mac'), 'dst': e['dst'], 'vni': e.get('vni'),
                        'flags': sorted(e.get('flags') or []), 'state': e.get('state')})
    return sorted(out, key=lambda e: (e['mac'] or '', e['dst']))


def parse_netnsids(entries):
    """{nsid (str): name} of ``ip -j netns list-id``: the ids this namespace
    gives the named namespaces it sees (iproute2 names only those)."""
    return {str(e['nsid']): e['name'] for e in entries if 'nsid' in e and e.get('name')}


def peer_candidates(ns, link, namespaces):
    """The namespaces the other end of ``link`` (in ``ns``) can be in, by its
    peer netnsid: ``ns`` itself when it has none, the named namespace that id
    stands for, else every namespace without a name (the host's, Docker's)."""
    nsid = link['peer_netnsid']
    if nsid is None:
        return [ns]
    name = ns.get('netnsids', {}).get(str(nsid))
    if name:
        return [n for n in namespaces if n['id'] == name]
    return [n for n in namespaces if n['kind'] != 'named' and n['id'] != ns['id']]


def veth_pairs(namespaces):
    """Both ends of every veth pair: [[{namespace, name}, {namespace, name}]].

    namespaces: [{'id', 'kind', 'links', 'netnsids'}]. The ends are matched as
    container_netns_info matches a container's eth0 (match_peer: each end's
    peer index is the other's ifindex), among the namespaces the peer netnsid
    allows: indexes repeat across namespaces (every ``ip netns`` namespace
    numbers its first veth 2)."""
    views = {ns['id']: {link['name']: link for link in ns['links']} for ns in namespaces}
    seen, pairs = set(), []
    for ns in namespaces:
        for link in ns['links']:
            cands = [(n['id'], views[n['id']]) for n in peer_candidates(ns, link, namespaces)]
            where, peer = match_peer(link, cands, own=None if link['peer_netnsid'] is None else ns['id'])
            if not peer or (where == ns['id'] and peer['name'] == link['name']):
                continue
            ends = tuple(sorted([(ns['id'], link['name']), (where, peer['name'])]))
            if ends not in seen:
                seen.add(ends)
                pairs.append([{'namespace': n, 'name': i} for n, i in ends])
    return sorted(pairs, key=lambda p: (p[0]['namespace'], p[0]['name']))


def bridges(namespaces):
    """Every bridge with its ports: [{namespace, name, addresses, mtu, up, ports}]."""
    out = []
    for ns in namespaces:
        for link in ns['links']:
            if link['kind'] != 'bridge':
                continue
            ports = sorted(p['name'] for p in ns['links'] if p['master'] == link['name'])
            out.append({'namespace': ns['id'], 'name': link['name'], 'addresses': link['addresses'],
                        'mtu': link['mtu'], 'up': link['up'], 'ports': ports})
    return out


def network_view(net):
    """The report's view of one ``docker network inspect`` entry."""
    options = net.get('Options') or {}
    subnets = [{'subnet': c.get('Subnet'), 'gateway': c.get('Gateway')}
               for c in ((net.get('IPAM') or {}).get('Config') or []) if c.get('Subnet')]
    mtu = options.get(MTU_OPTION)
    vni = options.get(VNI_OPTION)
    return {
        'name': net.get('Name'),
        'id': net.get('Id'),
        'driver': net.get('Driver'),
        'scope': net.get('Scope'),
        'internal': bool(net.get('Internal')),
        'attachable': bool(net.get('Attachable')),
        'subnets': subnets,
        'mtu': int(mtu) if mtu else None,
        'vni': int(vni.split(',')[0]) if vni else None,
        'bridge': options.get(BRIDGE_NAME_OPTION),
    }


def endpoints(container):
    """{network: {ip, prefixlen, mac, gateway}} from a ``docker inspect`` entry."""
    nets = (container.get('NetworkSettings') or {}).get('Networks') or {}
    return {name: {'ip': n.get('IPAddress') or None, 'prefixlen': n.get('IPPrefixLen') or None,
                   'mac': n.get('MacAddress') or None, 'gateway': n.get('Gateway') or None}
            for name, n in sorted(nets.items())}


def parse_etcd(members, health):
    """The report's view of ``etcdctl member list -w json`` and
    ``endpoint health --cluster -w json`` (parsed JSON, or None)."""
    out = {'members': [], 'health': []}
    for m in (members or {}).get('members') or []:
        out['members'].append({'id': f"{m.get('ID', 0):x}", 'name': m.get('name'),
                               'peer_urls': m.get('peerURLs') or [], 'client_urls': m.get('clientURLs') or []})
    for h in health or []:
        out['health'].append({'endpoint': h.get('endpoint'), 'health': bool(h.get('health')),
                              'error': h.get('error') or None})
    out['members'].sort(key=lambda m: m['name'] or '')
    out['health'].sort(key=lambda h: h['endpoint'] or '')
    return out


# ------------------------------------------------------------------ reading

def _json_or_none(text):
    try:
        return parse_json(text)
    except ValueError:
        return None


class Gatherer:
    """Reads one node. ``docker`` and ``etcdctl`` are argv prefixes."""

    def __init__(self, runner=None, docker='docker', etcdctl=None, etcd_env=None,
                 etcd_endpoints=None, backend_fact=None, netns_dir=DOCKER_NETNS):
        self.runner = runner or Runner()
        self.docker = which(docker) or docker
        self.etcdctl = list(etcdctl or ['etcdctl'])
        self.etcd_env = {k: str(v) for k, v in (etcd_env or {}).items()}
        self.etcd_endpoints = list(etcd_endpoints or [])
        self.backend_fact = backend_fact
        self.netns_dir = netns_dir

    def docker_json(self, args):
        rc, out, err = self.runner.run([self.docker] + list(args))
        if rc != 0:
            raise NetnsError(f'docker {" ".join(args)} failed: {err.strip()}', stderr=err.strip())
        return parse_json(out)

    def networks(self):
        rc, out, err = self.runner.run([self.docker, 'network', 'ls', '-q', '--no-trunc'])
        if rc != 0:
            raise NetnsError(f'docker network ls failed: {err.strip()}', stderr=err.strip())
        ids = out.split()
        return [network_view(n) for n in self.docker_json(['network', 'inspect'] + ids)] if ids else []

    def namespace_list(self, containers):
        """[{id, kind, path, ...}]: the host, ``ip netns`` ones, then Docker's;
        a namespace reached by two paths (a host-network container's
        ``default``) is listed once."""
        sandboxes = {(c.get('NetworkSettings') or {}).get('SandboxKey'): (c.get('Name') or '').lstrip('/')
                     for c in containers}
        found, seen = [], set()

        def add(entry, path):
            try:
                st = os.stat(path)
            except OSError:
                return  # gone while we look
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                found.append(entry)

        add({'id': 'host', 'kind': 'host', 'path': None}, '/proc/self/ns/net')
        for name in sorted(e['name'] for e in self.runner.ip_json(HOST, ['netns', 'list']) if 'name' in e):
            add({'id': name, 'kind': 'named', 'path': None}, os.path.join('/run/netns', name))
        for base in docker_netns_dir_entries(self.netns_dir):
            path = os.path.join(self.netns_dir, base)
            entry = {'id': path, 'kind': 'docker', 'path': path}
            if path in sandboxes:
                entry.update(kind='container', container=sandboxes[path])
            elif OVERLAY_NS.match(base):
                entry.update(kind='overlay', netid=OVERLAY_NS.match(base).group(1))
            add(entry, path)
        return found

    def ip_in(self, ns, args):
        """``ip -j ARGS`` in namespace ``ns`` (a namespace_list entry)."""
        if ns['kind'] in ('host', 'named'):
            return self.runner.ip_json(HOST if ns['kind'] == 'host' else ns['id'], args)
        return read_path_json(self.runner, ns['path'], [self.runner.ip, '-j'] + list(args))

    def read_namespace(self, ns):
        """ns with its links and netnsids, or None when it went away while we looked."""
        try:
            return dict(ns, links=parse_topology_links(self.ip_in(ns, ['-d', 'addr', 'show'])),
                        netnsids=parse_netnsids(self.ip_in(ns, ['netns', 'list-id'])))
        except NetnsError:
            return None

    def read_namespaces(self, namespaces):
        with ThreadPoolExecutor(WORKERS) as pool:
            return [ns for ns in pool.map(self.read_namespace, namespaces) if ns is not None]

    def overlays(self, namespaces, networks):
        """Each overlay namespace's bridge, VXLAN device(s), VNI and forwarding entries."""
        out = []
        for ns in namespaces:
            if ns['kind'] != 'overlay':
                continue
            net = next((n for n in networks if (n['id'] or '').startswith(ns['netid'])), None)
            for vx in (link for link in ns['links'] if link['kind'] == 'vxlan'):
                bridge = next((b for b in ns['links'] if b['name'] == vx['master']), None)
                try:
                    fdb = parse_fdb(read_path_json(self.runner, ns['path'],
                                                   [which('bridge') or 'bridge', '-j', 'fdb', 'show', 'dev',
                                                    vx['name']]))
                except NetnsError:
                    fdb = []
                out.append({'namespace': ns['id'], 'network': net['name'] if net else None,
                            'network_id': net['id'] if net else ns['netid'],
                            'vni': vx['vni'], 'port': vx['port'], 'vxlan': vx['name'], 'mtu': vx['mtu'],
                            'bridge': bridge['name'] if bridge else None,
                            'gateway': bridge['addresses'] if bridge else [], 'fdb': fdb})
        return out

    def etcd(self):
        prefix = [which(self.etcdctl[0]) or self.etcdctl[0]] + self.etcdctl[1:]
        if not which(self.etcdctl[0]):
            return {'available': False, 'error': f'{self.etcdctl[0]} not found', 'members': [], 'health': []}
        if self.etcd_endpoints:
            prefix.append('--endpoints=' + ','.join(self.etcd_endpoints))
        rc, out, err = self.runner.run(prefix + ['member', 'list', '-w', 'json'], env=self.etcd_env)
        members = _json_or_none(out) if rc == 0 else None
        hrc, hout, herr = self.runner.run(prefix + ['endpoint', 'health', '--cluster', '-w', 'json'],
                                          env=self.etcd_env)
        view = parse_etcd(members, _json_or_none(hout))
        errors = [e.strip() for code, e in ((rc, err), (hrc, herr)) if code != 0 and e.strip()]
        view.update(available=True, error='; '.join(errors) or None)
        return view

    def backend(self):
        if not self.backend_fact:
            return None
        try:
            with open(self.backend_fact) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def impairments(self):
        """The impairments lab.multihost.impair declared here, read back; [] when it cannot say."""
        # Imported only here: the rest of the read needs no impairment engine.
        from ansible_collections.lab.multihost.plugins.module_utils.impair.engine import read_all
        try:
            return read_all(self.runner)
        except Exception as exc:  # the report reads, it never fails on one part
            return [{'error': str(exc)}]

    def gather(self):
        containers = docker_containers(self.runner, None, self.docker)
        networks = self.networks()
        described = {c['id']: c for c in describe_containers(self.runner, containers, self.netns_dir)}
        namespaces = self.read_namespaces(self.namespace_list(containers))
        overlays = self.overlays(namespaces, networks)
        host_links = {link['name']: link for ns in namespaces if ns['kind'] == 'host' for link in ns['links']}
        for net in networks:
            here = next((o for o in overlays if o['network_id'] == net['id']), None)
            if here:  # the VNI and MTU the overlay's VXLAN device has on this node
                net['vni'] = net['vni'] or here['vni']
                net['mtu'] = net['mtu'] or here['mtu']
            elif net['driver'] == 'bridge' and not net['mtu']:
                device = host_links.get(net['bridge'] or 'br-' + (net['id'] or '')[:12])
                net['mtu'] = device['mtu'] if device else None
        out_containers = []
        for c in containers:
            if c.get('Id') in described:
                entry = dict(described[c['Id']])
                entry['image'] = (c.get('Config') or {}).get('Image')
                entry['endpoints'] = endpoints(c)
                out_containers.append(entry)
        return {
            'hostname': socket.gethostname(),
            'backend': self.backend(),
            'namespaces': namespaces,
            'veth_pairs': veth_pairs(namespaces),
            'bridges': bridges(namespaces),
            'overlays': overlays,
            'networks': sorted(networks, key=lambda n: n['name'] or ''),
            'containers': sorted(out_containers, key=lambda c: c['name']),
            'etcd': self.etcd(),
            'impairments': self.impairments(),
        }
