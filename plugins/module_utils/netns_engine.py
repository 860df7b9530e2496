"""Network-namespace engine shared by the netns, veth, linux_bridge,
netns_topology and container_netns_info modules.

Flow: desired state -> read actual state (``ip -j``) -> plan a list of
operations (the diff and the check-mode answer) -> apply them in phases,
one ``ip -batch`` per namespace and phase, keeping an undo list of what this
run created.  Pure python 3.9+ stdlib; needs only iproute2 on the node.
"""


import ipaddress
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

IFNAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
BATCH_FAIL_RE = re.compile(r'Command failed -:(\d+)')
HOST = None  # the namespace of the calling process
WORKERS = 4

# Apply phases: objects that others depend on come first.
PH_NETNS, PH_CREATE, PH_CONFIGURE, PH_FIREWALL = 0, 1, 2, 3
PH_REMOVE_LINKS, PH_REMOVE_NETNS = 0, 1


class NetnsError(Exception):
    """A validation, planning or apply error; ``details`` go to fail_json."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


# ---------------------------------------------------------------- validation

def validate_ifname(value, field):
    if not isinstance(value, str) or not value:
        raise NetnsError(f'{field}: interface name must be a non-empty string')
    if len(value.encode('utf-8')) > 15:
        raise NetnsError(f'{field}: interface name {value!r} is longer than 15 bytes')
    if value in ('.', '..'):
        raise NetnsError(f'{field}: interface name must not be "." or ".."')
    if '%' in value or not IFNAME_RE.match(value):
        raise NetnsError(f'{field}: interface name {value!r} may only contain [A-Za-z0-9_.-] '
                         '(no "%", "/", spaces)')
    return value


def validate_nsname(value, field):
    if value is None:
        return HOST
    if not isinstance(value, str) or not value:
        raise NetnsError(f'{field}: namespace name must be a non-empty string')
    if '/' in value:
        raise NetnsError(f'{field}: namespace name {value!r} must not contain "/"')
    if value in ('.', '..'):
        raise NetnsError(f'{field}: namespace name must not be "." or ".."')
    if any(c.isspace() for c in value) or '\0' in value:
        raise NetnsError(f'{field}: namespace name {value!r} must not contain whitespace')
    return value


def validate_addresses(value, field):
    """None (not managed) or a list of normalised CIDR strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise NetnsError(f'{field}: must be a CIDR address or a list of them')
    out = []
    for item in value:
        if not isinstance(item, str) or '/' not in item:
            raise NetnsError(f'{field}: {item!r} is not a CIDR address (address/prefix, e.g. '
                             '192.168.1.1/24)')
        try:
            iface = ipaddress.ip_interface(item.strip())
        except ValueError as exc:
            raise NetnsError(f'{field}: {item!r} is not a valid CIDR address: {exc}') from None
        norm = str(iface)
        if norm not in out:
            out.append(norm)
    return out


def validate_mtu(value, field):
    if value is None:
        return None
    try:
        mtu = int(value)
    except (TypeError, ValueError):
        raise NetnsError(f'{field}: MTU must be an integer') from None
    # The upper bound is the device's own maximum: the kernel enforces it.
    if mtu < 68:
        raise NetnsError(f'{field}: MTU {mtu} is below 68, the IPv4 minimum')
    return mtu


def validate_state(value, field='state'):
    if value not in ('present', 'absent'):
        raise NetnsError(f'{field}: must be "present" or "absent", not {value!r}')
    return value


# ------------------------------------------------------------------- desired

def _entry(item, key):
    return {key: item} if isinstance(item, str) else dict(item or {})


def normalize(spec, auto_namespaces=True, indexed=True):
    """Validate a topology spec and return it with defaults applied.

    spec = {state, namespaces: [name | {name, loopback_up}],
            bridges: [{name, namespace, addresses, stp, mtu, ports, firewall}],
            veths: [{name, peer, namespace, peer_namespace, addresses,
                     peer_addresses, mtu, bridge, peer_bridge}]}
    With auto_namespaces, namespaces that bridges or veths use are added to
    ``namespaces`` (created with the topology, removed with it).
    """
    state = validate_state(spec.get('state', 'present'))
    namespaces, seen_ns = [], {}
    for i, item in enumerate(spec.get('namespaces') or []):
        item = _entry(item, 'name')
        f = f'namespaces[{i}].' if indexed else ''
        name = validate_nsname(item.get('name'), f + 'name')
        if name is HOST:
            raise NetnsError(f + 'name: namespace name must be a non-empty string')
        if name in seen_ns:
            continue
        seen_ns[name] = {'name': name, 'loopback_up': bool(item.get('loopback_up', True))}
        namespaces.append(seen_ns[name])

    def use_ns(name):
        if auto_namespaces and name is not HOST and name not in seen_ns:
            seen_ns[name] = {'name': name, 'loopback_up': True}
            namespaces.append(seen_ns[name])

    bridges, names = [], set()

    def claim(ns, name, field):
        if (ns, name) in names:
            raise NetnsError('{}: interface {!r} is declared twice in namespace {}'.format(field, name, ns or '(host)'))
        names.add((ns, name))

    for i, item in enumerate(spec.get('bridges') or []):
        item = _entry(item, 'name')
        f = f'bridges[{i}].' if indexed else ''
        br = {
            'name': validate_ifname(item.get('name'), f + 'name'),
            'namespace': validate_nsname(item.get('namespace'), f + 'namespace'),
            'addresses': validate_addresses(item.get('addresses', item.get('address')),
                                            f + 'address'),
            'stp': None if item.get('stp') is None else bool(item.get('stp')),
            'mtu': validate_mtu(item.get('mtu'), f + 'mtu'),
            'ports': [validate_ifname(p, f + 'ports') for p in (item.get('ports') or [])],
            'firewall': item.get('firewall', 'docker-user'),
        }
        if br['firewall'] not in ('docker-user', 'none'):
            raise NetnsError(f + 'firewall: must be "docker-user" or "none"')
        claim(br['namespace'], br['name'], f + 'name')
        use_ns(br['namespace'])
        bridges.append(br)
    veths = []
    for i, item in enumerate(spec.get('veths') or []):
        item = dict(item or {})
        f = f'veths[{i}].' if indexed else ''
        v = {
            'name': validate_ifname(item.get('name'), f + 'name'),
            'peer': (None if state == 'absent' and item.get('peer') is None
                     else validate_ifname(item.get('peer'), f + 'peer')),
            'namespace': validate_nsname(item.get('namespace'), f + 'namespace'),
            'peer_namespace': validate_nsname(item.get('peer_namespace'), f + 'peer_namespace'),
            'addresses': validate_addresses(item.get('addresses', item.get('address')),
                                            f + 'address'),
            'peer_addresses': validate_addresses(
                item.get('peer_addresses', item.get('peer_address')), f + 'peer_address'),
            'mtu': validate_mtu(item.get('mtu'), f + 'mtu'),
            'bridge': None, 'peer_bridge': None,
        }
        for key in ('bridge', 'peer_bridge'):
            if item.get(key) is not None:
                v[key] = validate_ifname(item[key], f + key)
        if v['name'] == v['peer'] and v['namespace'] == v['peer_namespace']:
            raise NetnsError(f + 'peer: the two ends of a veth in the same namespace '
                             'need different names')
        claim(v['namespace'], v['name'], f + 'name')
        if v['peer'] is not None:
            claim(v['peer_namespace'], v['peer'], f + 'peer')
        use_ns(v['namespace'])
        use_ns(v['peer_namespace'])
        veths.append(v)
    return {'state': state, 'namespaces': namespaces, 'bridges': bridges, 'veths': veths}


# -------------------------------------------------------------------- runner

class Runner:
    """Runs iproute2 (and iptables) with a C locale."""

    def __init__(self, ip=None):
        self.ip = ip or _which('ip') or 'ip'
        self.env = dict(os.environ, LC_ALL='C', LANG='C')

    def run(self, argv, data=None):
        proc = subprocess.run(argv, input=data, capture_output=True,
                              env=self.env,
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


def _which(name):
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


# ---------------------------------------------------------------- actual state

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
        self.namespaces = {e['name'] for e in runner.ip_json(HOST, ['netns', 'list'])
                              if 'name' in e}
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


# --------------------------------------------------------------------- plan

class Op:
    """One step: ``ip [-n ns] args`` (or an iptables argv when tool='iptables')."""

    def __init__(self, phase, ns, args, undo=None, tool='ip'):
        self.phase, self.ns, self.args, self.undo, self.tool = phase, ns, list(args), undo, tool

    def cmdline(self, runner=None):
        if self.tool == 'ip':
            return ' '.join(['ip'] + (['-n', self.ns] if self.ns is not HOST else []) + self.args)
        return ' '.join(['iptables'] + self.args)

    def __repr__(self):
        return f'<Op {self.cmdline()}>'


def _ns_label(ns):
    return '(host)' if ns is HOST else ns


class Planner:
    def __init__(self, state, check_mode=False, firewall_tool=None, host_pid=None):
        self.state = state
        self.check_mode = check_mode
        self.ops = []
        self.before = {}
        self.after = {}
        self.warnings = []
        self.iptables = firewall_tool
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
        view_b = {'namespace': _ns_label(ns) if cur else None}
        view_a = {'namespace': _ns_label(ns)}
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
        key = f"veth/{_ns_label(v['namespace'])}/{v['name']}"
        name, peer = v['name'], v['peer']
        ns_a, ns_b = v['namespace'], v['peer_namespace']
        where_a, a = self.state.find_veth(name, [ns_a, ns_b], peer)
        where_b, b = self.state.find_veth(peer, [ns_b, ns_a], name) if peer else (None, None)
        if state == 'absent':
            self.after[key] = {'present': False}
            self.before[key] = {'present': bool(a or b)}
            end = (where_a, name) if a else (where_b, peer) if b else None
            if end:
                self.before[key]['namespace'] = _ns_label(end[0])
                self.add(PH_REMOVE_LINKS, end[0], ['link', 'del', end[1]])
            return
        for ns, nm, f in ((ns_a, name, 'namespace'), (ns_b, peer, 'peer_namespace')):
            self.need_ns(ns, 'veth {} {}'.format(v['name'], f))
            other = self.state.link(ns, nm) if self.state.exists(ns) else None
            if other and other['kind'] != 'veth':
                raise NetnsError('veth {}: an interface {!r} of kind {} already exists in '
                                 'namespace {}'.format(name, nm, other['kind'] or 'unknown',
                                                   _ns_label(ns)))
        if a and b and not paired(a, b):
            raise NetnsError(f'veth {name}: {name!r} (in {_ns_label(where_a)}) and {peer!r} '
                             f'(in {_ns_label(where_b)}) exist but are not peers of each other')
        if bool(a) != bool(b):
            ns, nm = (where_a, name) if a else (where_b, peer)
            want = peer if a else name
            raise NetnsError(f'veth {name}: {nm!r} exists in {_ns_label(ns)} but its peer is not named {want!r}')
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
            self.before[key]['namespace'] = _ns_label(where_a)
            self.before[key]['peer_namespace'] = _ns_label(where_b)

    def _move(self, name, where, target, link):
        if where == target:
            return link
        dest = target if target is not HOST else str(self.host_pid)
        self.add(PH_CREATE, where, ['link', 'set', name, 'netns', dest])
        # a moved link loses its addresses and master and is down
        return dict(link, addresses=[], up=False, master=None)

    # ---- bridges
    def bridge(self, br, state, veth_ends=()):
        key = f"bridge/{_ns_label(br['namespace'])}/{br['name']}"
        ns, name = br['namespace'], br['name']
        cur = self.state.link(ns, name) if self.state.exists(ns) else None
        if cur and cur['kind'] != 'bridge':
            raise NetnsError('bridge {}: an interface of kind {} with that name already '
                             'exists in namespace {}'.format(name, cur['kind'] or 'unknown',
                                                         _ns_label(ns)))
        fw = ns is HOST and br['firewall'] == 'docker-user' and self.iptables
        if state == 'absent':
            self.before[key] = {'present': bool(cur)}
            self.after[key] = {'present': False}
            if cur:
                self.add(PH_REMOVE_LINKS, ns, ['link', 'del', name])
            if fw and self._fw_rule_present(name):
                self.add(PH_REMOVE_LINKS, HOST, ['-w', '-D', 'DOCKER-USER'] + _fw_match(name),
                         tool='iptables')
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
                raise NetnsError(f'bridge {name} ports: interface {port!r} does not exist in namespace {_ns_label(ns)}')
            if p and p['master'] == name:
                self.before[key]['ports'].append(port)
            if (ns, port) in veth_ends:
                continue  # the veth plan sets master and up
            if not p or p['master'] != name:
                self.add(PH_CONFIGURE, ns, ['link', 'set', port, 'master', name])
            if not p or not p['up']:
                self.add(PH_CONFIGURE, ns, ['link', 'set', port, 'up'])
        if fw:
            self.before[key]['docker_user_accept'] = self._fw_rule_present(name)
            self.after[key]['docker_user_accept'] = True
            if not self._fw_chain_present():
                self.add(PH_FIREWALL, HOST, ['-w', '-N', 'DOCKER-USER'], tool='iptables',
                         undo=Op(PH_FIREWALL, HOST, ['-w', '-X', 'DOCKER-USER'],
                                 tool='iptables'))
                self._chain = True
            if not self.before[key]['docker_user_accept']:
                self.add(PH_FIREWALL, HOST, ['-w', '-I', 'DOCKER-USER'] + _fw_match(name),
                         tool='iptables',
                         undo=Op(PH_FIREWALL, HOST, ['-w', '-D', 'DOCKER-USER'] + _fw_match(name),
                                 tool='iptables'))

    def _fw_chain_present(self):
        if not hasattr(self, '_chain'):
            rc, _, _ = self.state.runner.run([self.iptables, '-w', '-S', 'DOCKER-USER'])
            self._chain = rc == 0
        return self._chain

    def _fw_rule_present(self, name):
        if not self._fw_chain_present():
            return False
        rc, _, _ = self.state.runner.run([self.iptables, '-w', '-C', 'DOCKER-USER']
                                         + _fw_match(name))
        return rc == 0


def _fw_match(bridge):
    return ['-i', bridge, '-o', bridge, '-j', 'ACCEPT']


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
        for v in topo['veths']:
            p.veth(v, st)
    else:
        for v in topo['veths']:
            p.veth(v, st)
        for br in topo['bridges']:
            p.bridge(br, st)
        for item in topo['namespaces']:
            p.netns(item, st)
    return p


# -------------------------------------------------------------------- apply

def _groups(ops):
    """[(phase, tool, ns, [ops])] in phase order, first-seen namespace order."""
    out = {}
    order = []
    for op in ops:
        key = (op.phase, op.tool, op.ns)
        if key not in out:
            out[key] = []
            order.append(key)
        out[key].append(op)
    order.sort(key=lambda k: k[0])
    return [(k[0], k[1], k[2], out[k]) for k in order]


def _run_group(runner, tool, ns, ops, iptables):
    """Run one group; return (done_ops, failure) with failure None on success."""
    if tool == 'iptables':
        for i, op in enumerate(ops):
            rc, _, err = runner.run([iptables] + op.args)
            if rc != 0:
                return ops[:i], {'cmd': op.cmdline(), 'rc': rc, 'stderr': err.strip()}
        return ops, None
    if len(ops) == 1:
        argv = runner.ip_argv(ns, ops[0].args)
        rc, _, err = runner.run(argv)
        if rc != 0:
            return [], {'cmd': ops[0].cmdline(), 'rc': rc, 'stderr': err.strip()}
        return ops, None
    data = ''.join(' '.join(op.args) + '\n' for op in ops)
    rc, _, err = runner.run(runner.ip_argv(ns, ['-batch', '-']), data=data)
    if rc == 0:
        return ops, None
    m = BATCH_FAIL_RE.search(err)
    stderr = BATCH_FAIL_RE.sub('', err).strip()
    if m and 0 < int(m.group(1)) <= len(ops):
        n = int(m.group(1))
        return ops[:n - 1], {'cmd': ops[n - 1].cmdline(), 'rc': rc, 'stderr': stderr}
    # ip exited without naming the line: undo every create of the batch
    return ops, {'cmd': ' ; '.join(op.cmdline() for op in ops), 'rc': rc, 'stderr': stderr}


def apply(ops, runner, iptables=None):
    """Apply ops in phase order; on failure undo what this run created and
    raise NetnsError naming the failing command and its stderr."""
    done = []
    for phase in sorted({op.phase for op in ops}):
        groups = [g for g in _groups(ops) if g[0] == phase]
        if len(groups) > 1:
            with ThreadPoolExecutor(WORKERS) as pool:
                results = list(pool.map(
                    lambda g: _run_group(runner, g[1], g[2], g[3], iptables), groups))
        else:
            results = [_run_group(runner, g[1], g[2], g[3], iptables) for g in groups]
        failure = None
        for ran, fail in results:
            done.extend(ran)
            failure = failure or fail
        if failure:
            undone = undo(done, runner, iptables)
            raise NetnsError('{} failed: {}'.format(failure['cmd'], failure['stderr']),
                             cmd=failure['cmd'], rc=failure['rc'], stderr=failure['stderr'],
                             undone=undone)
    return done


def undo(done, runner, iptables=None):
    """Reverse the creating ops in ``done``; return the undo command lines."""
    out = []
    for op in reversed(done):
        u = op.undo
        if u is None:
            continue
        if u.tool == 'iptables':
            rc, _, err = runner.run([iptables] + u.args)
        else:
            rc, _, err = runner.run(runner.ip_argv(u.ns, u.args))
        out.append(u.cmdline() + ('' if rc == 0 else f' (failed: {err.strip()})'))
    return out


# ------------------------------------------------------------------- converge

def converge(spec, check_mode=False, runner=None, auto_namespaces=True, indexed=True):
    """Validate, read, plan and (unless check_mode) apply ``spec``.

    Returns a dict for exit_json: changed, operations, diff, warnings.
    Raises NetnsError (with .details) on invalid input or a failed step.
    """
    topo = normalize(spec, auto_namespaces, indexed)
    runner = runner or Runner()
    if not _which('ip') and runner.ip == 'ip':
        raise NetnsError('the ip command (iproute2) was not found')
    iptables = _which('iptables')
    p = plan(topo, runner, check_mode=check_mode, firewall_tool=iptables)
    result = {
        'changed': bool(p.ops),
        'operations': [op.cmdline() for op in p.ops],
        'diff': {'before': _render(p.before), 'after': _render(p.after)},
        'warnings': p.warnings,
    }
    if p.ops and not check_mode:
        apply(p.ops, runner, iptables)
    return result


def _render(view):
    lines = []
    for key in sorted(view):
        attrs = view[key]
        lines.append('{}: {}'.format(key, ', '.join(f'{k}={_fmt(attrs[k])}'
                                                 for k in sorted(attrs))))
    return '\n'.join(lines) + ('\n' if lines else '')


def _fmt(value):
    if isinstance(value, list):
        return '[' + ' '.join(str(v) for v in value) + ']'
    return str(value).lower() if isinstance(value, bool) else str(value)


# --------------------------------------------------- container network info

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


def read_path_links(runner, path):
    """Links of the network namespace bound at ``path`` (nsenter + ip -j)."""
    nsenter = _which('nsenter') or 'nsenter'
    argv = [nsenter, '--net=' + path, runner.ip, '-j', '-d', 'addr', 'show']
    rc, out, err = runner.run(argv)
    if rc != 0:
        raise NetnsError(f'reading {path} failed: {err.strip()}',
                         cmd=' '.join(argv), stderr=err.strip())
    return parse_links(parse_json(out))


def docker_netns_dir_entries(path='/var/run/docker/netns'):
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


def container_info(runner=None, names=None, docker='docker', netns_dir='/var/run/docker/netns'):
    runner = runner or Runner()
    docker = _which(docker) or docker
    containers = docker_containers(runner, names, docker)
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
                if names:
                    raise
                continue  # stopped while we looked
        out.append(describe_container(c, cache[path], host, others, networks))
    return out


# ------------------------------------------------------------ module glue

def run_module(module, spec, single=False):
    """Converge ``spec`` for an AnsibleModule and exit.  ``single``: a
    one-object module (no implicit namespaces, plain field names)."""
    try:
        result = converge(spec, check_mode=module.check_mode,
                          auto_namespaces=not single, indexed=not single)
    except NetnsError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    diff = result.pop('diff')
    for warning in result.pop('warnings'):
        module.warn(warning)
    if module._diff:
        result['diff'] = diff
    module.exit_json(**result)
