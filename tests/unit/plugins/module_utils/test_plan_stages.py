"""Every stage's decision on what node_state read on the converged lab (fixtures/plan/<stage>.json,
written by scripts/capture_plans.py from `site.yml --check`: the stage's want and the node's
state). The converged node plans nothing in any stage, and each by-hand change test_drift
makes is applied to the captured read of the stage that owns it: the decision must name
exactly its repair. (test_drift's deleted namespace is the netns engine's plan, tested in
test_netns_engine.py.)"""

import copy
import json
import pathlib

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.plan import decide

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'plan'
STAGES = sorted(p.stem for p in FIXTURES.glob('*.*.json'))
PKI = '/etc/lab/pki'
SECRET = '/opt/lab/secrets/redis-password'
OTHER = 'f' * 40


def _fixture(stage):
    return json.loads((FIXTURES / f'{stage}.json').read_text())


def test_every_stage_was_captured():
    assert set(STAGES) >= {'firewall.main', 'pki.main', 'docker.main', 'overlay_backend.main', 'etcd.main',
                           'networks.main', 'netns_lab.main', 'lab_container.network.redis',
                           'lab_container.network.app'}


@pytest.mark.parametrize('stage', STAGES)
def test_the_converged_node_plans_nothing_in_any_stage(stage):
    fixture = _fixture(stage)
    assert fixture['changes'] == {}, 'captured from a lab that was not converged'
    assert decide(fixture['state'], fixture['want']) == {}


def _set(*keys, value):
    def edit(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


def _drop(*keys):
    def edit(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return edit


# test_drift's by-hand changes, each on the stage that repairs it.
DRIFT = [
    ('daemon.json edited', 'overlay_backend.main', _set('files', '/etc/docker/daemon.json', 'checksum', value=OTHER),
     {'file:/etc/docker/daemon.json': ['content']}),
    ("etcd's env file edited", 'etcd.main', _set('files', '/etc/default/etcd', 'checksum', value=OTHER),
     {'file:/etc/default/etcd': ['content']}),
    ('docker disabled', 'docker.main', _set('units', 'docker', 'enabled', value=False),
     {'unit:docker': ['disabled']}),
    ('overlay-recover disabled', 'overlay_backend.main', _set('units', 'overlay-recover', 'enabled', value=False),
     {'unit:overlay-recover': ['disabled']}),
    ('etcd disabled', 'etcd.main', _set('units', 'etcd', 'enabled', value=False), {'unit:etcd': ['disabled']}),
    ('the fence stopped', 'firewall.main', _set('units', 'lab-fence', 'active', value=False),
     {'unit:lab-fence': ['stopped']}),
    ('a node key deleted', 'pki.main', _set('files', f'{PKI}/etcdctl.key', value={'exists': False}),
     {f'file:{PKI}/etcdctl.key': ['missing']}),
    ("a secret file's mode", 'lab_container.network.redis', _set('files', SECRET, 'mode', value='0644'),
     {f'file:{SECRET}': ['mode']}),
    ('the app container removed', 'lab_container.network.app', _drop('docker', 'containers', 'app'),
     {'container:app': ['missing']}),
    ('a network removed', 'networks.main', _drop('docker', 'networks', 'my-bridge'),
     {'network:my-bridge': ['missing']}),
    ('the fence flushed', 'firewall.main', _set('nft', 'inet lab_fence', value=False),
     {'nft:inet lab_fence': ['not loaded in the kernel as the ruleset has it']}),
    # and what the other stages own
    ("the boot rebuild's unit link removed", 'netns_lab.main',
     _set('files', '/etc/systemd/system/multi-user.target.wants/netns-lab.service', value={'exists': False}),
     {'file:/etc/systemd/system/multi-user.target.wants/netns-lab.service': ['missing']}),
    ("the netns engine's record edited", 'netns_lab.main',
     _set('files', '/etc/lab/netns-lab.json', 'checksum', value=OTHER), {'file:/etc/lab/netns-lab.json': ['content']}),
    ("etcd's key readable by root only", 'etcd.main', _set('files', f'{PKI}/etcd.key', 'owner', value='root'),
     {f'file:{PKI}/etcd.key': ['owner']}),
    ('etcd removed', 'etcd.main', _set('packages', 'etcd-server', value=None),
     {'package:etcd-server': ['not installed']}),
    ('the redis container stopped', 'lab_container.network.redis',
     _set('docker', 'containers', 'redis', 'running', value=False), {'container:redis': ['stopped']}),
    ("the app's image removed", 'lab_container.network.app', _set('docker', 'images', value=[]),
     {f"image:{_fixture('lab_container.network.app')['want']['images'][0]}": ['missing']}),
]


@pytest.mark.parametrize('stage, edit, changes', [d[1:] for d in DRIFT], ids=[d[0] for d in DRIFT])
def test_each_by_hand_change_names_its_repair_and_nothing_else(stage, edit, changes):
    fixture = _fixture(stage)
    state = copy.deepcopy(fixture['state'])
    edit(state)
    assert decide(state, fixture['want']) == changes
