# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation of a topology spec: names, addresses and MTUs checked, defaults
applied, before anything on the node is read or changed. Every error names the
field (``veths[0].address``) and the rule."""

import ipaddress
import re

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import HOST, NetnsError

IFNAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')


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


# ------------------------------------------------------------ the whole spec

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
