# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Options -> a normalized spec, before anything on the node is read. Every
error names the option (``loss: ...``). Times are kept in microseconds,
percentages as floats, rates in bit/s; ``describe`` turns them back into the
canonical text ("50ms", "1%", "10mbit") the record and read-back show."""

import hashlib
import ipaddress
import math
import re

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import NetnsError

MARK = 0x4c41          # duplicates carry it: the chain's first rule lets them pass
HANDLE = '4c41'        # tc handles of ours: 4c41: (root), 4c42:, 4c43:
FIRST_QUEUE = 100
BACKENDS = ('auto', 'netem', 'queue')
PROTOCOLS = ('udp', 'tcp', 'icmp')
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
TIME_RE = re.compile(r'^(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s)$')
RATE_RE = re.compile(r'^(\d+(?:\.\d*)?|\.\d+)\s*(kbit|mbit|gbit)$')
NUMBER_RE = re.compile(r'^[-+]?(\d+(?:\.\d*)?|\.\d+)$')
TIME_UNITS = {'us': 1, 'ms': 1000, 's': 1000000}
RATE_UNITS = {'kbit': 1000, 'mbit': 1000000, 'gbit': 1000000000}


class ImpairError(NetnsError):
    """A validation, read or apply error; ``details`` go to fail_json."""


def _text(value):
    return str(value).strip() if value is not None else None


def parse_time(value, option):
    """'50ms' -> 50000 (us); None -> 0."""
    text = _text(value)
    if not text:
        return 0
    m = TIME_RE.match(text.lower())
    if not m:
        if NUMBER_RE.match(text):
            raise ImpairError(f'{option}: needs a unit: us, ms or s (e.g. {text}ms)')
        raise ImpairError(f'{option}: {text!r} is not a time: a number and us, ms or s (e.g. 50ms)')
    return int(round(float(m.group(1)) * TIME_UNITS[m.group(2)]))


def parse_percent(value, option):
    """'1%' or '1' -> 1.0; 0-100 inclusive; None -> 0.0."""
    text = _text(value)
    if not text:
        return 0.0
    number = text[:-1].strip() if text.endswith('%') else text
    if not NUMBER_RE.match(number):
        raise ImpairError(f'{option}: {text!r} is not a percentage (e.g. 1% or 0.5)')
    pct = float(number)
    if not math.isfinite(pct) or pct < 0 or pct > 100:
        raise ImpairError(f'{option}: must be from 0 to 100 percent, not {text!r}')
    return pct


def parse_rate(value, option='rate'):
    """'10mbit' -> 10000000 (bit/s); None -> 0."""
    text = _text(value)
    if not text:
        return 0
    m = RATE_RE.match(text.lower())
    if not m:
        if NUMBER_RE.match(text):
            raise ImpairError(f'{option}: needs a unit: kbit, mbit or gbit (e.g. {text}mbit)')
        raise ImpairError(f'{option}: {text!r} is not a rate: a number and kbit, mbit or gbit (e.g. 10mbit)')
    bits = int(round(float(m.group(1)) * RATE_UNITS[m.group(2)]))
    if bits < 8000:
        raise ImpairError(f'{option}: must be at least 8kbit, not {text!r}')
    return bits


def fmt_time(us):
    if not us:
        return None
    if us % 1000000 == 0:
        return f'{us // 1000000}s'
    return f'{us // 1000}ms' if us % 1000 == 0 else f'{us}us'


def fmt_percent(pct):
    return f'{pct:g}%' if pct else None


def fmt_rate(bits):
    if not bits:
        return None
    for unit in ('gbit', 'mbit', 'kbit'):
        if bits % RATE_UNITS[unit] == 0:
            return f'{bits // RATE_UNITS[unit]}{unit}'
    return f'{bits}bit'


def validate_name(value, option, limit=None):
    if not isinstance(value, str) or not value:
        raise ImpairError(f'{option}: must be a non-empty name')
    if not NAME_RE.match(value) or value in ('.', '..'):
        raise ImpairError(f'{option}: {value!r} may only contain [A-Za-z0-9_.-] (and is not "." or "..")')
    if limit and len(value) > limit:
        raise ImpairError(f'{option}: {value!r} is longer than {limit} bytes')
    return value


def validate_match(match):
    """None (all traffic) or {destinations: [CIDR], protocol, port}."""
    if match is None:
        return None
    if not isinstance(match, dict):
        raise ImpairError('match: must be a dict with destinations, protocol and port')
    unknown = sorted(set(match) - {'destinations', 'protocol', 'port'})
    if unknown:
        raise ImpairError(f'match: unknown key(s) {", ".join(unknown)} (destinations, protocol, port)')
    dests = match.get('destinations') or []
    if isinstance(dests, str):
        dests = [dests]
    out = []
    for item in dests:
        try:
            net = ipaddress.IPv4Network(str(item).strip(), strict=False)
        except ValueError:
            raise ImpairError(f'match.destinations: {item!r} is not an IPv4 address or CIDR') from None
        if str(net) not in out:
            out.append(str(net))
    proto = match.get('protocol')
    if proto is not None and proto not in PROTOCOLS:
        raise ImpairError(f'match.protocol: must be udp, tcp or icmp, not {proto!r}')
    port = match.get('port')
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ImpairError(f'match.port: must be an integer, not {port!r}') from None
        if not 1 <= port <= 65535:
            raise ImpairError(f'match.port: must be from 1 to 65535, not {port}')
        if proto not in ('udp', 'tcp'):
            raise ImpairError('match.port: needs match.protocol udp or tcp')
    if not out and proto is None:
        return None
    return {'destinations': sorted(out, key=ipaddress.IPv4Network), 'protocol': proto, 'port': port}


def normalize(options):
    """Module options (interface, namespace, delay, jitter, loss, duplicate,
    rate, match, backend, state) -> the spec the other steps use."""
    state = options.get('state') or 'present'
    if state not in ('present', 'absent'):
        raise ImpairError(f'state: must be "present" or "absent", not {state!r}')
    iface = validate_name(options.get('interface'), 'interface', limit=15)
    ns = options.get('namespace')
    ns = None if ns in (None, '') else validate_name(ns, 'namespace')
    backend = options.get('backend') or 'auto'
    if backend not in BACKENDS:
        raise ImpairError(f'backend: must be auto, netem or queue, not {backend!r}')
    spec = {
        'state': state, 'interface': iface, 'namespace': ns, 'backend': backend,
        'delay_us': parse_time(options.get('delay'), 'delay'),
        'jitter_us': parse_time(options.get('jitter'), 'jitter'),
        'loss': parse_percent(options.get('loss'), 'loss'),
        'duplicate': parse_percent(options.get('duplicate'), 'duplicate'),
        'rate_bit': parse_rate(options.get('rate')),
        'match': validate_match(options.get('match')),
    }
    if spec['jitter_us'] and not spec['delay_us']:
        raise ImpairError('jitter: needs delay (jitter varies the delay)')
    if state == 'present' and not any(spec[k] for k in ('delay_us', 'loss', 'duplicate', 'rate_bit')):
        raise ImpairError('state: present needs at least one of delay, loss, duplicate or rate')
    spec['key'] = key_of(ns, iface)
    return spec


def key_of(ns, iface):
    """The impairment's name in files and unit instances."""
    return f'{ns or "host"}-{iface}'


def chain_of(key):
    """The iptables chain of an impairment (names are at most 28 characters)."""
    name = 'LABIMP-' + key
    return name if len(name) <= 28 else 'LABIMP-' + hashlib.sha256(key.encode()).hexdigest()[:16]


def needs_queue(spec):
    """Delay, loss or duplication: what the listener (or netem) does; a rate alone is tc."""
    return bool(spec['delay_us'] or spec['loss'] or spec['duplicate'])


def describe(spec):
    """The canonical text of a spec: what the record holds and the read-back shows."""
    return {
        'interface': spec['interface'], 'namespace': spec['namespace'],
        'delay': fmt_time(spec['delay_us']), 'jitter': fmt_time(spec['jitter_us']),
        'loss': fmt_percent(spec['loss']), 'duplicate': fmt_percent(spec['duplicate']),
        'rate': fmt_rate(spec['rate_bit']), 'match': spec['match'],
    }
