# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Actual state, read with ``ip -j``: one ``ip -j netns list``, then one
``ip [-n NS] -j -d addr show`` per namespace (several in parallel), reduced to
the attributes the engine manages (link views)."""

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import HOST, WORKERS


def link_view(link):
    """The managed attributes of one ``ip -j -d addr`` entry."""
    info = link.get('linkinfo') or {}
    addrs = []
    for a in link.get('addr_info') or []:
        if a.get('family') == 'inet6' and a.get('scope') == 'link':
            continue  # kernel-made fe80::/64
        if 'local' in a and 'prefixlen' in a:
            addrs.append(str(ipaddress.ip_interface('{}/{}'.format(a['local'], a['prefixlen']))))
    return {
        'ifindex': link.get('ifindex'),
        'name': link.get('ifname'),
        'kind': info.get('info_kind'),
        'peer_ifindex': link.get('link_index'),
        'peer_netnsid': link.get('link_netnsid'),
        'up': 'UP' in (link.get('flags') or []),
        'mtu': link.get('mtu'),
        'master': link.get('master'),
        'addresses': addrs,
        'stp': (info.get('info_data') or {}).get('stp_state'),
    }


def parse_links(entries):
    return {e['ifname']: link_view(e) for e in entries if 'ifname' in e}


class State:
    """Actual state, read lazily: one ``ip -j -d addr show`` per namespace."""

    def __init__(self, runner):
        self.runner = runner
        self.namespaces = {e['name'] for e in runner.ip_json(HOST, ['netns', 'list']) if 'name' in e}
        self._links = {}

    def exists(self, ns):
        return ns is HOST or ns in self.namespaces

    def read(self, ns):
        if ns not in self._links:
            if not self.exists(ns):
                self._links[ns] = {}
            else:
                self._links[ns] = parse_links(self.runner.ip_json(ns, ['-d', 'addr', 'show']))
        return self._links[ns]

    def prefetch(self, nss):
        todo = [ns for ns in set(nss) if ns not in self._links and self.exists(ns)]
        if len(todo) > 1:
            with ThreadPoolExecutor(WORKERS) as pool:
                for ns, links in zip(todo, pool.map(self._read_raw, todo)):
                    self._links[ns] = links
        for ns in todo:
            self.read(ns)

    def _read_raw(self, ns):
        return parse_links(self.runner.ip_json(ns, ['-d', 'addr', 'show']))

    def link(self, ns, name):
        return self.read(ns).get(name)

    def find_veth(self, name, first, peer=None):
        """(ns, link) of veth ``name``: the given namespaces first, then all.

        Outside ``first`` a veth counts only when paired with a link named
        ``peer``: a node's own eth0 (a veth too, in a container) is not ours.
        """
        order = list(first) + [HOST] + sorted(self.namespaces)
        done = set()
        for ns in order:
            if ns in done or not self.exists(ns):
                continue
            done.add(ns)
            link = self.link(ns, name)
            if link and link['kind'] == 'veth' and (ns in first or peer is None or self._has_peer(link, peer)):
                return ns, link
        return None, None

    def _has_peer(self, link, peer):
        for ns in [HOST] + sorted(self.namespaces):
            other = self.link(ns, peer) if self.exists(ns) else None
            if other and paired(link, other):
                return True
        return False


def paired(a, b):
    return (a['kind'] == b['kind'] == 'veth' and a['peer_ifindex'] == b['ifindex']
            and b['peer_ifindex'] == a['ifindex'])
