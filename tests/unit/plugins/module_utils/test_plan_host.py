"""Unit tests of the host-level stage decision (plan.host, node_state's comparison)
on what node_state read on docker-node1 of the converged lab (fixtures/plan/firewall.main.json: the
firewall stage's want and the node's state). Each by-hand change of test_drift that touches
the stage is applied to the captured state, and the decision must name its repair."""

import copy
import json
import pathlib

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.plan.host import (
    diff_text,
    file_reasons,
    host_changes,
    normal_mode,
    package_reasons,
)

CAPTURED = json.loads((pathlib.Path(__file__).parent / 'fixtures' / 'plan' / 'firewall.main.json').read_text())
RULESET = '/etc/lab-fence.nft'
UNIT_FILE = '/etc/systemd/system/lab-fence.service'


def _changed(edit):
    state = copy.deepcopy(CAPTURED['state'])
    edit(state)
    return host_changes(state, CAPTURED['want'])


def test_the_converged_node_plans_nothing():
    assert host_changes(CAPTURED['state'], CAPTURED['want']) == {}


@pytest.mark.parametrize('edit, key, reasons', [
    # test_drift: the fence stopped, the fence flushed
    (lambda s: s['units']['lab-fence'].update(active=False), 'unit:lab-fence', ['stopped']),
    (lambda s: s['nft'].update({'inet lab_fence': False}), 'nft:inet lab_fence',
     ['not loaded in the kernel as the ruleset has it']),
    # and every other rule the stage relies on
    (lambda s: s['units']['lab-fence'].update(enabled=False), 'unit:lab-fence', ['disabled']),
    (lambda s: s['units'].update({'lab-fence': {'loaded': False, 'enabled': False, 'active': False}}),
     'unit:lab-fence', ['not loaded', 'disabled', 'stopped']),
    (lambda s: s['packages'].update(nftables=None), 'package:nftables', ['not installed']),
    (lambda s: s['files'][RULESET].update(checksum='0' * 40), f'file:{RULESET}', ['content']),
    (lambda s: s['files'][RULESET].update(mode='0644'), f'file:{RULESET}', ['mode']),
    (lambda s: s['files'][UNIT_FILE].update(owner='nobody', group='nogroup'), None, None),
    (lambda s: s['files'].update({RULESET: {'exists': False}}), f'file:{RULESET}', ['missing']),
    (lambda s: s['files'][RULESET].update(type='directory'), f'file:{RULESET}', ['not a file']),
])
def test_each_by_hand_change_names_its_repair_and_nothing_else(edit, key, reasons):
    changes = _changed(edit)
    assert changes == ({} if key is None else {key: reasons})


def test_owner_and_group_count_when_the_stage_names_them():
    have = CAPTURED['state']['files'][UNIT_FILE]
    assert file_reasons(dict(have, owner='nobody', group='nogroup'), {'owner': 'root', 'group': 'root'}) == [
        'owner', 'group']


def test_a_directory_is_wanted_by_type_and_mode():
    have = {'exists': True, 'type': 'directory', 'mode': '0755', 'owner': 'root', 'group': 'root'}
    assert file_reasons(have, {'type': 'directory', 'mode': '0755'}) == []
    assert file_reasons(have, {'mode': '0700'}) == ['mode']
    assert file_reasons(dict(have, type='file'), {'type': 'directory'}) == ['not a directory']


def test_a_fresh_node_needs_everything_in_order():
    fresh = {'files': {path: {'exists': False} for path in CAPTURED['want']['files']},
             'units': {'lab-fence': {'loaded': False, 'enabled': False, 'active': False}},
             'packages': {'nftables': None}, 'nft': {'inet lab_fence': False}}
    changes = host_changes(fresh, CAPTURED['want'])
    assert list(changes) == ['package:nftables', f'file:{RULESET}', f'file:{UNIT_FILE}', 'unit:lab-fence',
                             'nft:inet lab_fence']
    assert diff_text(changes).splitlines()[0] == 'package:nftables: not installed'


@pytest.mark.parametrize('mode', ['644', '0644', 0o644, 420])
def test_modes_in_every_spelling(mode):
    assert normal_mode(mode) == '0644'


def test_a_link_is_wanted_by_type_and_target():
    want = {'type': 'link', 'target': '/etc/systemd/system/netns-lab.service'}
    have = {'exists': True, 'type': 'link', 'target': '/etc/systemd/system/netns-lab.service', 'mode': '0777'}
    assert file_reasons(have, want) == []
    assert file_reasons(dict(have, target='/lib/systemd/system/netns-lab.service'), want) == ['target']
    assert file_reasons(dict(have, type='file'), want) == ['not a link']
    assert file_reasons({'exists': False}, want) == ['missing']


def test_a_path_wanted_absent_is_present_until_removed():
    assert file_reasons({'exists': True, 'type': 'file'}, {'state': 'absent'}) == ['present']
    assert file_reasons({'exists': False}, {'state': 'absent'}) == []


def test_a_package_to_install_says_the_version_apt_offers_or_that_it_cannot():
    assert package_reasons('nftables', None) == ['not installed']
    assert package_reasons('nftables', {'nftables': '1.0.6-2+deb12u2'}) == [
        'not installed', 'apt would install 1.0.6-2+deb12u2']
    assert package_reasons('nftables', {'nftables': None})[1].startswith("apt's lists on the node hold no version")


def test_a_topology_the_netns_engine_would_change_is_named_with_its_first_operations():
    want = {'topologies': ['pair', 'bridged']}
    ops = [f'ip netns add ns{i}' for i in range(7)]
    state = {'netns_topologies': {'pair': {'differs': False, 'operations': []},
                                  'bridged': {'differs': True, 'operations': ops}}}
    assert host_changes(state, want) == {'topology:bridged': ops[:5] + ['and 2 more']}
    state['netns_topologies']['pair'] = {'differs': True, 'error': 'pair: veth peer in two namespaces'}
    assert host_changes(state, want)['topology:pair'] == ['pair: veth peer in two namespaces']
    assert host_changes({}, want) == {'topology:pair': ['not read'], 'topology:bridged': ['not read']}
    state['netns_topologies']['pair'] = {'differs': False, 'operations': []}
    state['netns_topologies']['bridged'] = {'differs': False, 'operations': []}
    assert host_changes(state, want) == {}


# The overlay stage's read of docker-node1 (fixtures/plan/overlay_backend.main.json): dockerd's pid
# file and the client certificate it reads only at start (the cluster store over TLS).
OVERLAY = json.loads((pathlib.Path(__file__).parent / 'fixtures' / 'plan' / 'overlay_backend.main.json').read_text())
RESTARTS = {'docker': {'pid': '/run/docker.pid',
                       'reads': ['/etc/lab/pki/docker-etcd-client.crt', '/etc/lab/pki/ca.crt']}}


def test_a_file_dockerd_reads_at_start_renewed_after_it_started_is_a_restart():
    files = copy.deepcopy(OVERLAY['state']['files'])
    assert host_changes({'files': files}, {'restarts': RESTARTS}) == {}
    files['/etc/lab/pki/docker-etcd-client.crt']['mtime'] = files['/run/docker.pid']['mtime'] + 1
    assert host_changes({'files': files}, {'restarts': RESTARTS}) == {
        'restart:docker': ['/etc/lab/pki/docker-etcd-client.crt changed since it started']}
    # Not running: starting it reads the files, nothing to restart.
    files['/run/docker.pid'] = {'exists': False}
    assert host_changes({'files': files}, {'restarts': RESTARTS}) == {}
