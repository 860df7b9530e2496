"""Unit tests of the filter lab.multihost.stage_read: a stage takes its part of the lab's one read
of a node only where that read holds and decided the part on the want the stage has now."""

from ansible_collections.lab.multihost.plugins.filter.stage_read import stage_read

WANT = {'packages': ['nftables'], 'units': {'lab-fence': {'enabled': True, 'active': True}}}
SHARED = {'wants': {'firewall': WANT},
          'stages': {'firewall': {'changes': {}, 'waiting': {}}},
          'state': {'packages': {'nftables': '1.0.6'}}}


def test_the_part_with_the_read_state_where_the_want_is_the_same():
    assert stage_read(SHARED, 'firewall', dict(WANT)) == {'changes': {}, 'waiting': {}, 'state': SHARED['state']}


def test_no_part_where_the_want_changed_since_the_read():
    assert stage_read(SHARED, 'firewall', dict(WANT, packages=['nftables', 'iptables'])) is None


def test_no_part_where_the_read_ended_or_never_was_or_left_the_stage_out():
    assert stage_read(None, 'firewall', WANT) is None
    assert stage_read(SHARED, 'docker', WANT) is None


def test_the_stages_own_read_first_where_it_ran():
    own = {'changes': {'unit:lab-fence': ['stopped']}, 'waiting': {}, 'state': {}}
    assert stage_read(SHARED, 'firewall', WANT, own=own) is own
    assert stage_read(SHARED, 'firewall', WANT, own={'skipped': True})['state'] == SHARED['state']
