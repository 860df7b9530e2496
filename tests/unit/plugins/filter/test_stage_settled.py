"""Unit tests of the filter lab.multihost.stage_settled: a stage's play skips its role only where the
lab's one read holds a part for it that asks for nothing."""

from ansible_collections.lab.multihost.plugins.filter.stage_settled import stage_settled

SHARED = {'stages': {'firewall': {'changes': {}, 'waiting': {}},
                     'docker': {'changes': {'unit:docker': ['stopped']}, 'waiting': {}},
                     'etcd': {'changes': {}, 'waiting': {'unit:etcd': ['not loaded']}}}}


def test_settled_where_the_part_asks_for_nothing():
    assert stage_settled(SHARED, 'firewall') is True


def test_not_settled_where_the_part_changes_or_waits_for_something():
    assert stage_settled(SHARED, 'docker') is False
    assert stage_settled(SHARED, 'etcd') is False


def test_not_settled_where_the_read_ended_never_was_or_left_the_stage_out():
    assert stage_settled(None, 'firewall') is False
    assert stage_settled({}, 'firewall') is False
    assert stage_settled(SHARED, 'pki') is False


def test_a_list_of_reads_is_settled_where_each_one_is():
    settled = {'stages': {'networks': {'changes': {}, 'waiting': {}}}}
    missing = {'stages': {'networks': {'changes': {'network:demo': ['missing']}, 'waiting': {}}}}
    assert stage_settled([settled, settled], 'networks') is True
    assert stage_settled([settled, missing], 'networks') is False
    assert stage_settled([settled, False], 'networks') is False
    assert stage_settled([], 'networks') is False
