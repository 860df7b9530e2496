"""Unit tests of the filter lab.multihost.changed_keys: the daemon.json keys a new document changes."""

from ansible_collections.lab.multihost.plugins.filter.changed_keys import changed_keys


def test_a_changed_added_or_removed_key_is_named_once_sorted():
    running = {'debug': True, 'mtu': 1450, 'log-driver': 'json-file'}
    wanted = {'mtu': 1450, 'log-driver': 'local', 'max-concurrent-downloads': 4}
    assert changed_keys(wanted, running) == ['debug', 'log-driver', 'max-concurrent-downloads']


def test_the_same_document_changes_nothing_and_a_nested_difference_names_its_key():
    doc = {'log-opts': {'max-size': '10m'}, 'cluster-store': 'etcd://127.0.0.1:2379'}
    assert changed_keys(doc, dict(doc)) == []
    assert changed_keys(doc, {**doc, 'log-opts': {'max-size': '20m'}}) == ['log-opts']


def test_a_null_key_equals_a_missing_one_as_the_role_writes_none():
    assert changed_keys({}, {'cluster-advertise': None}) == []
    assert changed_keys({}, {'cluster-advertise': '192.168.205.10:2376'}) == ['cluster-advertise']
