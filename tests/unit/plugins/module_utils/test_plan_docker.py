"""Unit tests of the engine decision (plan.docker): what the networks and lab-container stages
want against the engine as node_state read docker-node1 of the running lab
(fixtures/node_state/: docker inspect of the app container, docker network inspect). Each
by-hand change of test_drift on the engine (the app container removed, my-bridge removed) and
every other rule must name its repair, and nothing else."""

import copy
import json
import pathlib

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.plan.docker import alone_on, engine_changes
from ansible_collections.lab.multihost.plugins.module_utils.readers.docker import parse_containers, parse_networks

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'node_state'
ENGINE = {
    'networks': parse_networks(json.loads((FIXTURES / 'docker_network_inspect.json').read_text())),
    'containers': parse_containers(json.loads((FIXTURES / 'docker_inspect.json').read_text())),
    'images': ['lab/app:5a3c355ada06'],
}
WANT = {
    'networks': [{'name': 'demo', 'driver': 'overlay', 'subnet': '10.0.0.0/24'},
                 {'name': 'my-bridge', 'driver': 'bridge'}],
    'images': ['lab/app:5a3c355ada06'],
    'containers': {'app': {'spec': '15d18b1670b0', 'network': 'demo'}},
}


def _changed(edit, want=None):
    engine = copy.deepcopy(ENGINE)
    edit(engine)
    return engine_changes(engine, want or WANT)


def test_the_converged_engine_plans_nothing():
    assert engine_changes(ENGINE, WANT) == {}


@pytest.mark.parametrize('edit, changes', [
    # test_drift: the app container removed, a network removed
    (lambda e: e['containers'].pop('app'), {'container:app': ['missing']}),
    (lambda e: e['networks'].pop('my-bridge'), {'network:my-bridge': ['missing']}),
    # and every other rule the stages rely on
    (lambda e: e['containers']['app'].update(running=False), {'container:app': ['stopped']}),
    (lambda e: e['containers']['app'].update(networks=[]), {'container:app': ['detached']}),
    (lambda e: e['containers']['app']['labels'].update({'lab.multihost.spec': 'old'}), {'container:app': ['spec']}),
    (lambda e: e['containers']['app'].update(labels={}), {'container:app': ['spec']}),
    (lambda e: e['images'].clear(), {'image:lab/app:5a3c355ada06': ['missing']}),
    (lambda e: e['networks']['demo'].update(driver='bridge'), {'network:demo': ['driver']}),
    (lambda e: e['networks']['demo'].update(subnets=['10.9.0.0/24']), {'network:demo': ['subnet']}),
    # what the stage does not ask for is not its business
    (lambda e: e['containers'].update(other={'running': False}), {}),
    (lambda e: e['networks'].pop('docker_gwbridge'), {}),
])
def test_each_by_hand_change_names_its_repair_and_nothing_else(edit, changes):
    assert _changed(edit) == changes


def test_a_network_without_a_subnet_is_wanted_by_name_and_driver_only():
    want = {'networks': [{'name': 'my-bridge'}]}
    assert _changed(lambda e: e['networks']['my-bridge'].update(subnets=['172.30.0.0/16']), want) == {}
    assert _changed(lambda e: e['networks']['my-bridge'].update(driver='macvlan'), want) == {
        'network:my-bridge': ['driver']}


def test_without_an_engine_everything_is_to_do_and_says_why():
    reason = ['no engine answers']
    assert engine_changes(None, WANT) == {'network:demo': reason, 'network:my-bridge': reason,
                                          'image:lab/app:5a3c355ada06': reason, 'container:app': reason}


def test_changes_come_in_apply_order():
    engine = {'networks': {}, 'containers': {}, 'images': []}
    assert list(engine_changes(engine, WANT)) == ['network:demo', 'network:my-bridge',
                                                  'image:lab/app:5a3c355ada06', 'container:app']


SECRET = '/opt/lab/secrets/redis-password'
SHA1 = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'  # sha1("test")


def _with_secrets(label):
    engine = copy.deepcopy(ENGINE)
    engine['containers']['app']['labels']['lab.multihost.secrets'] = label
    return engine


def test_secrets_from_the_content_the_stage_writes_or_else_from_the_file_on_the_node():
    from ansible_collections.lab.multihost.plugins.filter.secrets_version import secrets_version as label_of
    label = label_of({SECRET: 'test'})
    container = {'app': dict(WANT['containers']['app'], secrets=[SECRET])}
    written = dict(WANT, files={SECRET: {'checksum': SHA1}}, containers=container)
    unknown = dict(WANT, files={SECRET: {'mode': '0640'}}, containers=container)
    # The stage holds the content: the label it would write is the one compared.
    assert engine_changes(_with_secrets(label), written) == {}
    assert engine_changes(_with_secrets(label), written, {SECRET: {'checksum': 'other'}}) == {}
    assert engine_changes(_with_secrets('old'), written) == {'container:app': ['secrets']}
    # It does not (the lab's one read): the file on the node is what the container must match.
    assert engine_changes(_with_secrets(label), unknown, {SECRET: {'checksum': SHA1}}) == {}
    assert engine_changes(_with_secrets(label), unknown, {SECRET: {'checksum': 'rotated'}}) == {
        'container:app': ['secrets']}
    assert engine_changes(_with_secrets(label), unknown, {SECRET: {'exists': False}}) == {
        'container:app': ['secrets']}
    # A container without the label was made before it, or without these secrets.
    assert engine_changes(ENGINE, written) == {'container:app': ['secrets']}


def test_the_app_as_read_on_docker_node1_is_alone_on_demo():
    """docker-node1 of the running lab holds the app alone on demo: replacing it leaves Docker 20.10's
    thread, which check mode predicts the recovery engine repairs."""
    assert ENGINE['containers']['app']['running'] and 'demo' in ENGINE['containers']['app']['networks']
    assert alone_on(ENGINE['containers'], 'app', 'demo')


def test_a_running_neighbour_on_the_network_and_not_a_stopped_one():
    containers = copy.deepcopy(ENGINE['containers'])
    containers['redis'] = {'running': False, 'networks': ['demo']}
    assert alone_on(containers, 'app', 'demo')
    assert not alone_on(containers, 'app', 'my-bridge'), "the app is not on my-bridge"
    containers['redis']['running'] = True
    assert not alone_on(containers, 'app', 'demo')
