"""Unit tests of the collection's filters: file_differs and networks_missing."""

import hashlib

from ansible_collections.lab.multihost.plugins.filter.file_differs import file_differs
from ansible_collections.lab.multihost.plugins.filter.networks_missing import networks_missing

CONTENT = 'ruleset\n'
FACTS = {'exists': True, 'type': 'file', 'mode': '0600', 'owner': 'root', 'group': 'root',
         'checksum': hashlib.sha1(CONTENT.encode()).hexdigest()}


def test_same_file_does_not_differ():
    assert not file_differs(FACTS, CONTENT, '0600', 'root', 'root')
    assert not file_differs(FACTS, CONTENT, 0o600)


def test_missing_content_mode_or_owner_differs():
    assert file_differs({'exists': False}, CONTENT, '0600')
    assert file_differs(None, CONTENT)
    assert file_differs(FACTS, CONTENT + 'x', '0600')
    assert file_differs(FACTS, CONTENT, '0644')
    assert file_differs(FACTS, None, '0600', 'etcd')


def test_mode_only():
    assert not file_differs(FACTS, None, '0600')


WANTED = [{'name': 'demo', 'driver': 'overlay', 'subnet': '10.0.0.0/24'}, {'name': 'my-bridge', 'driver': 'bridge'}]


def _state(networks):
    return {'state': {'docker': {'networks': networks}}}


def test_networks_present_are_not_missing():
    have = {'demo': {'driver': 'overlay', 'subnets': ['10.0.0.0/24']}, 'my-bridge': {'driver': 'bridge'}}
    assert networks_missing(WANTED, _state(have)) == []


def test_a_removed_or_different_network_is_missing():
    assert networks_missing(WANTED, _state({'demo': {'driver': 'overlay', 'subnets': ['10.0.0.0/24']}})) == [WANTED[1]]
    assert networks_missing(WANTED, _state({'demo': {'driver': 'overlay', 'subnets': ['10.1.0.0/24']},
                                            'my-bridge': {'driver': 'bridge'}})) == [WANTED[0]]


def test_without_an_engine_read_everything_is_missing():
    assert networks_missing(WANTED, {'skipped': True}) == WANTED
    assert networks_missing(WANTED, {'state': {'docker': None}}) == WANTED
