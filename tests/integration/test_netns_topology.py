"""netns_topology: build, re-run, absent, undo on failure, and a host bridge
that must pass traffic while Docker's FORWARD policy is DROP."""

import shutil

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.netns import engine
from labkit import links, netns_names, reach, run_module, sh


def bridged(prefix, host_bridge=False):
    sw = None if host_bridge else prefix + 'sw'
    topo = {'namespaces': [prefix + 'b1', prefix + 'b2', prefix + 'b3'],
            'bridges': [{'name': prefix + 'br', 'namespace': sw}],
            'veths': []}
    for i in (1, 2, 3):
        topo['veths'].append({'name': 'eth0', 'namespace': f'{prefix}b{i}',
                              'address': f'10.10.0.{i}/24',
                              'peer': f'{prefix}p{i}', 'peer_namespace': sw,
                              'peer_bridge': prefix + 'br'})
    return topo


def test_topology_build_rerun_absent(prefix):
    topo = bridged(prefix)
    r = run_module('lab.multihost.netns_topology', topo, check=True)
    assert r['changed'] is True
    assert not [n for n in netns_names() if n.startswith(prefix)], 'check mode created'
    r = run_module('lab.multihost.netns_topology', topo)
    assert r['changed'] is True
    assert {prefix + s for s in ('b1', 'b2', 'b3', 'sw')} <= set(netns_names())
    for src in (1, 2, 3):
        for dst in (1, 2, 3):
            if src != dst:
                assert reach(f'{prefix}b{src}', f'{prefix}b{dst}', f'10.10.0.{dst}')
    r = run_module('lab.multihost.netns_topology', topo)
    assert r['changed'] is False and r['operations'] == []
    assert r['diff']['before'] == r['diff']['after']
    r = run_module('lab.multihost.netns_topology', dict(topo, state='absent'))
    assert r['changed'] is True
    assert not [n for n in netns_names() if n.startswith(prefix)]
    assert run_module('lab.multihost.netns_topology', dict(topo, state='absent'))['changed'] is False


def test_undo_on_failure_removes_what_the_task_created(prefix):
    sh('ip', 'netns', 'add', prefix + 'old')   # exists before: must survive
    topo = {'namespaces': [prefix + 'old', prefix + 'new'],
            'veths': [{'name': prefix + 'a', 'namespace': prefix + 'new',
                       'peer': prefix + 'b', 'peer_namespace': prefix + 'old',
                       'address': '10.20.0.1/24', 'mtu': 70000}]}
    r = run_module('lab.multihost.netns_topology', topo)
    assert r.get('failed') is True
    assert 'mtu 70000' in r['cmd'] and r['cmd'].startswith('ip -n ')
    assert 'mtu greater than device maximum' in r['stderr']
    assert r['cmd'] in r['msg'] and r['stderr'] in r['msg']
    assert f'ip netns del {prefix}new' in r['undone']
    assert prefix + 'new' not in netns_names()
    assert prefix + 'old' in netns_names()
    assert prefix + 'b' not in links(prefix + 'old')


def test_engine_undo_when_a_later_batch_line_fails(prefix):
    # the address goes in, then the MTU fails: the veth and address are undone
    sh('ip', 'netns', 'add', prefix + 'n')
    spec = {'veths': [{'name': prefix + 'a', 'peer': prefix + 'b', 'namespace': prefix + 'n',
                       'address': '10.21.0.1/24'},
                      {'name': prefix + 'c', 'peer': prefix + 'd', 'namespace': prefix + 'n',
                       'mtu': 70000}]}
    with pytest.raises(engine.NetnsError) as err:
        engine.converge(spec, auto_namespaces=False)
    d = err.value.details
    assert d['cmd'] == f'ip -n {prefix}n link set {prefix}c mtu 70000'
    assert f'ip -n {prefix}n link del {prefix}a' in d['undone']
    assert f'ip -n {prefix}n link del {prefix}c' in d['undone']
    assert not [n for n in links(prefix + 'n') if n.startswith(prefix)]
    assert not [n for n in links() if n.startswith(prefix)]


@pytest.mark.skipif(not shutil.which('iptables'), reason='iptables is not installed')
def test_host_bridge_passes_traffic_through_docker_user(prefix):
    topo = bridged(prefix, host_bridge=True)
    r = run_module('lab.multihost.netns_topology', topo)
    assert r['changed'] is True
    rule = ['-i', prefix + 'br', '-o', prefix + 'br', '-j', 'ACCEPT']
    assert sh('iptables', '-w', '-C', 'DOCKER-USER', *rule, check=False).returncode == 0
    assert reach(prefix + 'b1', prefix + 'b2', '10.10.0.2')
    assert run_module('lab.multihost.netns_topology', topo)['changed'] is False
    policy = sh('iptables', '-w', '-S', 'FORWARD').stdout.splitlines()[0]
    nf = sh('sysctl', '-n', 'net.bridge.bridge-nf-call-iptables', check=False).stdout.strip()
    if policy == '-P FORWARD DROP' and nf == '1':
        # the rule is what lets the traffic through: without it, it is dropped
        sh('iptables', '-w', '-D', 'DOCKER-USER', *rule)
        assert not reach(prefix + 'b1', prefix + 'b2', '10.10.0.2')
        r = run_module('lab.multihost.netns_topology', topo)
        assert r['operations'] == ['iptables -w -I DOCKER-USER ' + ' '.join(rule)]
        assert reach(prefix + 'b1', prefix + 'b2', '10.10.0.2')
    r = run_module('lab.multihost.netns_topology', dict(topo, state='absent'))
    assert sh('iptables', '-w', '-C', 'DOCKER-USER', *rule, check=False).returncode != 0
    assert prefix + 'br' not in links()


def test_node_state_plans_each_topology_as_the_module_would(prefix):
    """The netns-lab stage runs netns_topology only where node_state's plan (the same engine, check
    mode, on the node) says a topology differs: built, nothing; a namespace deleted, that one differs."""
    topo = dict(bridged(prefix), name='bridged')
    plan = run_module('lab.multihost.node_state', {'netns_topologies': [topo]})['state']['netns_topologies']
    assert plan['bridged']['differs'] and plan['bridged']['operations']
    assert not [n for n in netns_names() if n.startswith(prefix)], 'the plan created something'
    run_module('lab.multihost.netns_topology', bridged(prefix))
    plan = run_module('lab.multihost.node_state', {'netns_topologies': [topo]})['state']['netns_topologies']
    assert plan['bridged'] == {'differs': False, 'operations': []}
    sh('ip', 'netns', 'del', prefix + 'b2')
    plan = run_module('lab.multihost.node_state', {'netns_topologies': [topo]})['state']['netns_topologies']
    assert plan['bridged']['differs'] and any(prefix + 'b2' in op for op in plan['bridged']['operations'])
    bad = dict(topo, veths=[{'name': 'x'}])
    plan = run_module('lab.multihost.node_state', {'netns_topologies': [bad]})['state']['netns_topologies']
    assert plan['bridged']['differs'] and plan['bridged']['error']
