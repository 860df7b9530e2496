# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The facts the lab's roles use, under the names and in the forms of Ansible's setup module:
the local facts (facts.d), the distribution, its release and OS family, the host name and every
IPv4 address but the loopback's."""

import configparser
import json
import os
import socket

# ID (or ID_LIKE) in /etc/os-release -> setup's distribution and os_family names.
DISTRIBUTIONS = {'debian': 'Debian', 'ubuntu': 'Ubuntu', 'raspbian': 'Raspbian', 'devuan': 'Devuan', 'kali': 'Kali'}


def os_release(text):
    """/etc/os-release's KEY=value lines as a dict, quotes removed."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and key and not key.startswith('#'):
            fields[key] = value.strip().strip('"\'')
    return fields


def distribution(fields):
    """{distribution, distribution_release, distribution_major_version, os_family} from os_release()."""
    ident = fields.get('ID', '').lower()
    name = DISTRIBUTIONS.get(ident) or (fields.get('NAME') or ident or 'Unknown').split()[0]
    like = [ident] + fields.get('ID_LIKE', '').lower().split()
    return {'distribution': name,
            'distribution_release': fields.get('VERSION_CODENAME') or fields.get('UBUNTU_CODENAME') or 'NA',
            'distribution_major_version': (fields.get('VERSION_ID') or 'NA').split('.')[0],
            'os_family': 'Debian' if 'debian' in like or 'ubuntu' in like else name}


def ipv4_addresses(ip_json):
    """Every IPv4 address of `ip -j -4 addr show`, but the loopback's (127.0.0.0/8)."""
    return [a['local'] for link in json.loads(ip_json or '[]') for a in link.get('addr_info', [])
            if a.get('family') == 'inet' and a.get('local') and not a['local'].startswith('127.')]


def local_facts(fact_path):
    """setup's ansible_local: each NAME.fact under fact_path, JSON or INI, by NAME. Executable
    fact scripts are not run: the lab writes none."""
    facts = {}
    try:
        names = sorted(n for n in os.listdir(fact_path) if n.endswith('.fact'))
    except OSError:
        return facts
    for name in names:
        path = os.path.join(fact_path, name)
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except OSError as exc:
            facts[name[:-5]] = f'error loading facts from {path}: {exc}'
            continue
        facts[name[:-5]] = _parse_fact(text)
    return facts


def _parse_fact(text):
    try:
        return json.loads(text)
    except ValueError:
        pass
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return 'error loading facts as JSON or INI - please check content'
    return {section: dict(parser.items(section)) for section in parser.sections()}


def node_facts(run, fact_path='/etc/ansible/facts.d', os_release_path='/etc/os-release'):
    """The facts, read with `run(argv) -> (rc, out, err)` (readers.run) for the addresses."""
    try:
        with open(os_release_path, encoding='utf-8') as f:
            release = os_release(f.read())
    except OSError:
        release = {}
    rc, out, _err = run(['ip', '-j', '-4', 'addr', 'show'])
    return dict(distribution(release), hostname=socket.gethostname().split('.')[0],
                all_ipv4_addresses=ipv4_addresses(out) if rc == 0 else [], local=local_facts(fact_path))
