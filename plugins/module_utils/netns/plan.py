# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planning: from a validated topology and the actual state, the list of
operations (each an ``ip`` or ``iptables`` command with its phase, namespace
and, if it creates something, its undo) plus the before/after views of every
declared object. The list is the check-mode answer; the views are the diff."""

import os

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import (
    HOST,
    PH_CONFIGURE,
    PH_CREATE,
    PH_NETNS,
    PH_REMOVE_LINKS,
    PH_REMOVE_NETNS,
    NetnsError,
    Op,
    ns_label,
)
from ansible_collections.lab.multihost.plugins.module_utils.netns.firewall import DockerUserRule
from ansible_collections.lab.multihost.plugins.module_utils.netns.state import State, paired


def _bridge_key(br):
    return f"bridge/{ns_label(br['namespace'])}/{br['name']}"


class Planner:
    """Collects ops (in plan order) and the before/after view of each object."""

    def __init__(self, state, check_mode=False, firewall_tool=None, host_pid=None):
        self.state = state
        self.check_mode = check_mode
        self.ops = []
        self.before = {}
        self.after = {}
        self.warnings = []
        self.firewall = DockerUserRule(state.runner, firewall_tool)
        self.host_pid = host_pid or os.getpid()
        self.planned_ns = set()   # namespaces this plan creates
        self.fresh = {}           # (ns, name) -> link view after create/move

    def add(self, *a, **kw):
        op = Op(*a, **kw)
        self.ops.append(op)
        return op

    # current view of (ns, name), taking earlier planned creates/moves into account
    def cur(self, ns, name):
        if (ns, name) in self.fresh:
            return self.fresh[(ns, name)]
        return self.state.link(ns, name)

    def need_ns(self, ns, field):
        if self.state.exists(ns) or ns in self.planned_ns:
            return
        if self.check_mode:
            self.warnings.append(f'{field}: namespace {ns} does not exist (yet)')
            return
        raise NetnsError(f'{field}: namespace {ns!r} does not exist; create it first (netns module '
                         'or netns_topology namespaces)')

    # ---- namespaces
    def netns(self, item, state):
        name = item['name']
        key = f'netns/{name}'
        exists = self.state.exists(name)
        lo = self.state.link(name, 'lo') if exists else None
        self.before[key] = {'present': exists, 'loopback_up': bool(lo and lo['up'])}
        if state == 'absent':
            self.after[key] = {'present': False}
            self.before[key].pop('loopback_up')
            if exists:
                self.add(PH_REMOVE_NETNS, HOST, ['netns', 'del', name])
            return
        self.after[key] = {'present': True, 'loopback_up': bool(item['loopback_up']) or
                           self.before[key]['loopback_up']}
        if not exists:
            self.planned_ns.add(name)
            self.add(PH_NETNS, HOST, ['netns', 'add', name],
                     undo=Op(PH_NETNS, HOST, ['netns', 'del', name]))
        if item['loopback_up'] and not (lo and lo['up']):
            self.add(PH_CONFIGURE, name, ['link', 'set', 'lo', 'up'])

    # ---- one interface's attributes
    def configure(self, ns, name, cur, addresses=None, mtu=None, master=None,
                  stp=None, up=True):
        view_b = {'namespace': ns_label(ns) if cur else None}
        view_a = {'namespace': ns_label(ns)}
        cur = cur or {'addresses': [], 'up': False, 'mtu': None, 'master': None, 'stp': None}
        if mtu is not None:
            view_b['mtu'], view_a['mtu'] = cur['mtu'], mtu
            if cur['mtu'] != mtu:
                self.add(PH_CONFIGURE, ns, ['link', 'set', name, 'mtu', str(mtu)])
        if stp is not None:
            have = None if cur['stp'] is None else bool(cur['stp'])
            view_b['stp'], view_a['stp'] = have, stp
            if have != stp:
                self.add(PH_CONFIGURE, ns, ['link', 'set', name, 'type', 'bridge',
                                            'stp_state', '1' if stp else '0'])
        if master is not None:
            view_b['master'], view_a['master'] = cur['master'], master
            if cur['master'] != master:
                self.add(PH_CONFIGURE, ns, ['link', 'set', name, 'master', master])
        if addresses is not None:
            view_b['addresses'], view_a['addresses'] = sorted(cur['addresses']), sorted(addresses)
            for addr in cur['addresses']:
                if addr not in addresses:
                    self.add(PH_CONFIGURE, ns, ['addr', 'del', addr, 'dev', name])
            for addr in addresses:
                if addr not in cur['addresses']:
                    self.add(PH_CONFIGURE, ns, ['addr', 'add', addr, 'dev', name],
                             undo=Op(PH_CONFIGURE, ns, ['addr', 'del', addr, 'dev', name]))
        view_b['up'], view_a['up'] = cur['up'], up
        if up and not cur['up']:
            self.add(PH_CONFIGURE, ns, ['link', 'set', name, 'up'])
        return view_b, view_a

    # ---- veth pairs
    def veth(self, v, state):
        key = f"veth/{ns_label(v['namespace'])}/{v['name']}"
        name, peer = v['name'], v['peer']
        ns_a, ns_b = v['namespace'], v['peer_namespace']
        where_a, a = self.state.find_veth(name, [ns_a, ns_b], peer)
        where_b, b = self.state.find_veth(peer, [ns_b, ns_a], name) if peer else (None, None)
        if state == 'absent':
            self.after[key] = {'present': False}
            self.before[key] = {'present': bool(a or b)}
            end = (where_a, name) if a else (where_b, peer) if b else None
            if end:
                self.before[key]['namespace'] = ns_label(end[0])
                self.add(PH_REMOVE_LINKS, end[0], ['link', 'del', end[1]])
            return
        for ns, nm, f in ((ns_a, name, 'namespace'), (ns_b, peer, 'peer_namespace')):
            self.need_ns(ns, 'veth {} {}'.format(v['name'], f))
            other = self.state.link(ns, nm) if self.state.exists(ns) else None
            if other and other['kind'] != 'veth':
                raise NetnsError('veth {}: an interface {!r} of kind {} already exists in '
                                 'namespace {}'.format(name, nm, other['kind'] or 'unknown', ns_label(ns)))
        if a and b and not paired(a, b):
            raise NetnsError(f'veth {name}: {name!r} (in {ns_label(where_a)}) and {peer!r} '
                             f'(in {ns_label(where_b)}) exist but are not peers of each other')
        if bool(a) != bool(b):
            ns, nm = (where_a, name) if a else (where_b, peer)
            want = peer if a else name
            raise NetnsError(f'veth {name}: {nm!r} exists in {ns_label(ns)} but its peer is not named {want!r}')
        if not a:
            args = ['link', 'add', name]
            if ns_a is not HOST:
                args += ['netns', ns_a]
            args += ['type', 'veth', 'peer', 'name', peer]
            if ns_b is not HOST:
                args += ['netns', ns_b]
            self.add(PH_CREATE, HOST, args,
                     undo=Op(PH_CREATE, ns_a, ['link', 'del', name]))
            a = b = None
        else:
            a, b = self._move(name, where_a, ns_a, a), self._move(peer, where_b, ns_b, b)
        before_a, after_a = self.configure(ns_a, name, a, v['addresses'], v['mtu'], v['bridge'])
        before_b, after_b = self.configure(ns_b, peer, b, v['peer_addresses'], v['mtu'],
                                           v['peer_bridge'])
        self.after[key] = dict(present=True, **_merge(after_a, after_b))
        if where_a is None:
            self.before[key] = {'present': False}
        else:
            self.before[key] = dict(present=True, **_merge(before_a, before_b))
            self.before[key]['namespace'] = ns_label(where_a)
            self.before[key]['peer_namespace'] = ns_label(where_b)

    def _move(self, name, where, target, link):
        if where == target:
            return link
        dest = target if target is not HOST else str(self.host_pid)
        self.add(PH_CREATE, where, ['link', 'set', name, 'netns', dest])
        # a moved link loses its addresses and master and is down
        return dict(link, addresses=[], up=False, master=None)

    # ---- bridges
    def bridge(self, br, state, veth_ends=()):
        key = _bridge_key(br)
        ns, name = br['namespace'], br['name']
        cur = self.state.link(ns, name) if self.state.exists(ns) else None
        if cur and cur['kind'] != 'bridge':
            raise NetnsError('bridge {}: an interface of kind {} with that name already '
                             'exists in namespace {}'.format(name, cur['kind'] or 'unknown', ns_label(ns)))
        if state == 'absent':
            self.before[key] = {'present': bool(cur)}
            self.after[key] = {'present': False}
            if cur:
                self.add(PH_REMOVE_LINKS, ns, ['link', 'del', name])
            return
        self.need_ns(ns, f'bridge {name} namespace')
        if not cur:
            args = ['link', 'add', name, 'type', 'bridge']
            if br['stp'] is not None:
                args += ['stp_state', '1' if br['stp'] else '0']
            self.add(PH_CREATE, ns, args, undo=Op(PH_CREATE, ns, ['link', 'del', name]))
            created = {'addresses': [], 'up': False, 'mtu': None, 'master': None,
                       'stp': None if br['stp'] is None else int(br['stp'])}
            view_b, view_a = self.configure(ns, name, created, br['addresses'], br['mtu'],
                                            stp=br['stp'])
            view_b = {}
        else:
            view_b, view_a = self.configure(ns, name, cur, br['addresses'], br['mtu'],
                                            stp=br['stp'])
        self.before[key] = dict(present=bool(cur), **(view_b if cur else {}))
        self.after[key] = dict(present=True, **view_a)
        if br['ports']:
            self.before[key]['ports'] = []
            self.after[key]['ports'] = list(br['ports'])
        for port in br['ports']:
            p = self.cur(ns, port)
            if p is None and (ns, port) not in veth_ends:
                if self.check_mode and not self.state.exists(ns):
                    continue
                raise NetnsError(f'bridge {name} ports: interface {port!r} does not exist in namespace {ns_label(ns)}')
            if p and p['master'] == name:
                self.before[key]['ports'].append(port)
            if (ns, port) in veth_ends:
                continue  # the veth plan sets master and up
            if not p or p['master'] != name:
                self.add(PH_CONFIGURE, ns, ['link', 'set', port, 'master', name])
            if not p or not p['up']:
                self.add(PH_CONFIGURE, ns, ['link', 'set', port, 'up'])

    # ---- Docker's DOCKER-USER accept rule of a host bridge (netns_firewall)
    def docker_user(self, br, state):
        if not self.firewall.wanted(br):
            return
        if state == 'absent':
            self.ops.extend(self.firewall.absent(br['name']))
            return
        key = _bridge_key(br)
        self.before[key]['docker_user_accept'], ops = self.firewall.present(br['name'])
        self.after[key]['docker_user_accept'] = True
        self.ops.extend(ops)


def _merge(a, b):
    out = {}
    for k, v in a.items():
        out[k] = v
    for k, v in b.items():
        out['peer_' + k] = v
    return out


def plan(topo, runner, check_mode=False, firewall_tool=None):
    """Return a Planner holding ops, before and after for a normalised topology."""
    state = State(runner)
    p = Planner(state, check_mode=check_mode, firewall_tool=firewall_tool)
    wanted = [HOST] + [n['name'] for n in topo['namespaces']]
    state.prefetch(wanted)
    st = topo['state']
    if st == 'present':
        for item in topo['namespaces']:
            p.netns(item, st)
        ends = set()
        for v in topo['veths']:
            ends.add((v['namespace'], v['name']))
            ends.add((v['peer_namespace'], v['peer']))
        for br in topo['bridges']:
            p.bridge(br, st, ends)
            p.docker_user(br, st)
        for v in topo['veths']:
            p.veth(v, st)
    else:
        for v in topo['veths']:
            p.veth(v, st)
        for br in topo['bridges']:
            p.bridge(br, st)
            p.docker_user(br, st)
        for item in topo['namespaces']:
            p.netns(item, st)
    return p
