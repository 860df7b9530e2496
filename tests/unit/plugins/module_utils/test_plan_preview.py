"""Unit tests of check mode as the plan (plan.preview.split): of a stage's decision, what the
stage's own tasks preview and what waits for an earlier step of a real run, reported by the
decision itself. On the wants captured from the converged lab (fixtures/plan/) and the node
as a fresh one reads: no apt lists, nothing installed, no engine."""

import json
import pathlib

from ansible_collections.lab.multihost.plugins.module_utils.plan import decide, decide_each
from ansible_collections.lab.multihost.plugins.module_utils.plan.host import NO_LISTS
from ansible_collections.lab.multihost.plugins.module_utils.plan.preview import NOT_LOADED, split

PLANS = pathlib.Path(__file__).parent / 'fixtures' / 'plan'
ETCD = json.loads((PLANS / 'etcd.main.json').read_text())
REDIS = json.loads((PLANS / 'lab_container.network.redis.json').read_text())
KEY = '/etc/lab/pki/etcd.key'


def _fresh(want, lists=None, users=(), engine=None):
    """A fresh node's read of what the stage wants: apt's lists offer ``lists`` ({name: version}),
    the users named exist, the engine answers with ``engine`` (None: none answers)."""
    owners = {s[k] for s in (want.get('files') or {}).values() for k in ('owner', 'group') if s.get(k)}
    state = {'files': {p: {'exists': False} for p in want.get('files') or {}},
             'units': {u: {'loaded': False, 'enabled': False, 'active': False} for u in want.get('units') or {}},
             'packages': {p: None for p in want.get('packages') or []},
             'candidates': {p: (lists or {}).get(p) for p in want.get('packages') or []},
             'accounts': {'users': {o: o in users for o in owners}, 'groups': {o: o in users for o in owners}},
             'docker': engine}
    return state, decide(state, want)


def test_a_converged_node_has_nothing_to_preview_or_wait_for():
    assert split(decide(ETCD['state'], ETCD['want']), ETCD['state'], ETCD['want']) == ({}, {})


def test_without_apt_lists_packages_and_their_unit_and_user_wait():
    state, changes = _fresh(ETCD['want'])
    act, waiting = split(changes, state, ETCD['want'])
    assert set(waiting) == {'package:etcd-server', 'package:etcd-client', 'unit:etcd', f'file:{KEY}'}
    assert waiting['package:etcd-server'] == ['not installed', NO_LISTS]
    assert waiting['unit:etcd'][-1] == NOT_LOADED
    assert waiting[f'file:{KEY}'][-1].startswith('its owner etcd does not exist yet')
    # The settings, the member's data (its start makes it) and the record of what it keeps: the stage's tasks.
    assert set(act) == {'file:/etc/default/etcd', 'file:/usr/local/bin/lab-etcdctl',
                        'file:/var/lib/etcd/cluster/member', 'file:/etc/ansible/facts.d/etcd.fact'}
    assert set(act) | set(waiting) == set(changes), 'every change is previewed by a task or by the decision'


def test_with_apt_lists_the_install_is_previewed_by_its_task_with_the_version():
    state, changes = _fresh(ETCD['want'], lists={'etcd-server': '3.4.23-4+b6', 'etcd-client': '3.4.23-4+b6'})
    act, waiting = split(changes, state, ETCD['want'])
    assert act['package:etcd-server'] == ['not installed', 'apt would install 3.4.23-4+b6']
    assert 'package:etcd-server' not in waiting and 'unit:etcd' in waiting


def test_a_file_whose_owner_exists_is_previewed_by_its_task():
    state, changes = _fresh(ETCD['want'], users=('etcd',))
    act, waiting = split(changes, state, ETCD['want'])
    assert f'file:{KEY}' in act and f'file:{KEY}' not in waiting


def test_a_loaded_unit_that_is_stopped_is_previewed_by_its_task():
    state = json.loads(json.dumps(ETCD['state']))
    state['units']['etcd']['active'] = False
    act, waiting = split(decide(state, ETCD['want']), state, ETCD['want'])
    assert act == {'unit:etcd': ['stopped']} and waiting == {}


def test_without_an_engine_the_image_and_container_wait_and_the_secrets_do_not():
    state, changes = _fresh(REDIS['want'], users=('root',))
    act, waiting = split(changes, state, REDIS['want'])
    image = next(k for k in changes if k.startswith('image:'))
    assert set(waiting) == {image, 'container:redis'}
    assert waiting['container:redis'][-1].startswith('no engine answers yet')
    assert set(act) == {'file:/opt/lab/secrets', 'file:/opt/lab/secrets/redis-password'}


def test_with_an_engine_a_missing_container_is_previewed_by_its_task():
    engine = dict(REDIS['state']['docker'], containers={})
    state, changes = _fresh(REDIS['want'], users=('root',), engine=engine)
    act, waiting = split(changes, state, REDIS['want'])
    assert act['container:redis'] == ['missing'] and waiting == {}


def test_one_read_decides_each_stage_on_its_own():
    """The lab's one read of a node (node_state's wants): each stage's part names only its own keys."""
    state = dict(ETCD['state'], **{k: v for k, v in REDIS['state'].items() if k == 'docker'})
    state['files'] = {**ETCD['state']['files'], **REDIS['state']['files']}
    state['units'] = dict(state['units'], etcd=dict(state['units']['etcd'], active=False))
    decided = decide_each(state, {'etcd': ETCD['want'], 'redis': REDIS['want']})
    assert decided == {'etcd': {'changes': {'unit:etcd': ['stopped']}, 'waiting': {}},
                       'redis': {'changes': {}, 'waiting': {}}}
    fresh = _fresh(ETCD["want"])[0]
    assert decide_each(fresh, {'etcd': ETCD['want']}, check_mode=True)['etcd']['waiting']['unit:etcd'][-1] == NOT_LOADED
