"""netns, veth and linux_bridge modules run as Ansible runs them, on real
namespaces and links."""

from labkit import links, netns_names, reach, run_module, sh


def test_netns_exact_name_mario2_does_not_hide_mario(prefix):
    r = run_module('lab.multihost.netns', {'name': prefix + 'mario2'})
    assert r['changed'] is True
    r = run_module('lab.multihost.netns', {'name': prefix + 'mario'})
    assert r['changed'] is True, 'an existing mario2 must not count as mario'
    assert r['operations'][0] == f'ip netns add {prefix}mario'
    assert {prefix + 'mario', prefix + 'mario2'} <= set(netns_names())
    r = run_module('lab.multihost.netns', {'name': prefix + 'mario', 'state': 'absent'})
    assert r['changed'] is True
    assert prefix + 'mario' not in netns_names()
    assert prefix + 'mario2' in netns_names()


def test_netns_check_mode_changes_nothing_and_second_run_is_quiet(prefix):
    ns = prefix + 'a'
    r = run_module('lab.multihost.netns', {'name': ns}, check=True)
    assert r['changed'] is True
    assert r['operations'] == [f'ip netns add {ns}', f'ip -n {ns} link set lo up']
    assert 'present=false' in r['diff']['before'] and 'present=true' in r['diff']['after']
    assert ns not in netns_names()
    r = run_module('lab.multihost.netns', {'name': ns})
    assert r['changed'] is True and ns in netns_names()
    assert 'UP' in links(ns)['lo']['flags']
    r = run_module('lab.multihost.netns', {'name': ns})
    assert r['changed'] is False and r['operations'] == []
    r = run_module('lab.multihost.netns', {'name': ns, 'state': 'absent'}, check=True)
    assert r['changed'] is True and ns in netns_names()


def _pair(prefix):
    return {'name': prefix + 'v1', 'peer': prefix + 'v2',
            'namespace': prefix + 'n1', 'peer_namespace': prefix + 'n2',
            'address': '192.168.1.1/24', 'peer_address': ['192.168.1.2/24']}


def test_veth_create_check_idempotent_and_ping(prefix):
    sh('ip', 'netns', 'add', prefix + 'n1')
    sh('ip', 'netns', 'add', prefix + 'n2')
    args = _pair(prefix)
    r = run_module('lab.multihost.veth', args, check=True)
    assert r['changed'] is True
    assert prefix + 'v1' not in links(prefix + 'n1'), 'check mode must not create'
    r = run_module('lab.multihost.veth', args)
    assert r['changed'] is True
    a, b = links(prefix + 'n1')[prefix + 'v1'], links(prefix + 'n2')[prefix + 'v2']
    assert 'UP' in a['flags'] and 'UP' in b['flags']
    assert [x['local'] for x in a['addr_info'] if x['family'] == 'inet'] == ['192.168.1.1']
    assert reach(prefix + 'n1', prefix + 'n2', '192.168.1.2')
    r = run_module('lab.multihost.veth', args)
    assert r['changed'] is False and r['operations'] == []


def test_veth_converges_misplaced_down_pair(prefix):
    sh('ip', 'netns', 'add', prefix + 'n1')
    sh('ip', 'netns', 'add', prefix + 'n2')
    sh('ip', 'netns', 'add', prefix + 'n3')
    # both ends in the wrong places, down, one wrong address
    sh('ip', 'link', 'add', prefix + 'v1', 'netns', prefix + 'n3',
       'type', 'veth', 'peer', 'name', prefix + 'v2')
    sh('ip', 'addr', 'add', '10.9.9.9/24', 'dev', prefix + 'v2')
    args = _pair(prefix)
    r = run_module('lab.multihost.veth', args)
    assert r['changed'] is True
    assert f'ip -n {prefix}n3 link set {prefix}v1 netns {prefix}n1' in r['operations']
    assert prefix + 'v2' not in links()
    a, b = links(prefix + 'n1')[prefix + 'v1'], links(prefix + 'n2')[prefix + 'v2']
    assert 'UP' in a['flags'] and 'UP' in b['flags']
    assert [x['local'] for x in b['addr_info'] if x['family'] == 'inet'] == ['192.168.1.2']
    assert reach(prefix + 'n1', prefix + 'n2', '192.168.1.2')
    # link down and an address removed behind Ansible's back
    sh('ip', '-n', prefix + 'n1', 'link', 'set', prefix + 'v1', 'down')
    sh('ip', '-n', prefix + 'n2', 'addr', 'flush', 'dev', prefix + 'v2')
    r = run_module('lab.multihost.veth', args)
    assert sorted(r['operations']) == sorted([
        f'ip -n {prefix}n1 link set {prefix}v1 up',
        f'ip -n {prefix}n2 addr add 192.168.1.2/24 dev {prefix}v2'])
    assert run_module('lab.multihost.veth', args)['changed'] is False


def test_veth_absent_removes_pair_wherever_it_is(prefix):
    sh('ip', 'netns', 'add', prefix + 'n9')
    sh('ip', 'link', 'add', prefix + 'v1', 'netns', prefix + 'n9',
       'type', 'veth', 'peer', 'name', prefix + 'v2')
    r = run_module('lab.multihost.veth', {'name': prefix + 'v1', 'state': 'absent'}, check=True)
    assert r['changed'] is True and prefix + 'v2' in links()
    r = run_module('lab.multihost.veth', {'name': prefix + 'v1', 'state': 'absent'})
    assert r['changed'] is True
    assert r['operations'] == [f'ip -n {prefix}n9 link del {prefix}v1']
    assert prefix + 'v2' not in links() and prefix + 'v1' not in links(prefix + 'n9')
    assert run_module('lab.multihost.veth', {'name': prefix + 'v1', 'state': 'absent'})['changed'] is False


def test_module_validation_error_names_field_and_rule(prefix):
    r = run_module('lab.multihost.veth', {'name': prefix + 'way-too-long', 'peer': prefix + 'p'})
    assert r.get('failed') is True
    assert r['msg'].startswith('name:') and '15 bytes' in r['msg']
    r = run_module('lab.multihost.veth', {'name': prefix + 'a', 'peer': prefix + 'b',
                                          'address': '192.168.1.300/24'})
    assert r.get('failed') is True and r['msg'].startswith('address:') and 'CIDR' in r['msg']
    r = run_module('lab.multihost.netns', {'name': 'a/b'})
    assert r.get('failed') is True and r['msg'].startswith('name:') and '"/"' in r['msg']
    assert not [n for n in links() if n.startswith(prefix)]


def test_linux_bridge_in_namespace_with_ports(prefix):
    sw, n1, n2 = prefix + 'sw', prefix + 'n1', prefix + 'n2'
    for ns in (sw, n1, n2):
        sh('ip', 'netns', 'add', ns)
    for i, ns in ((1, n1), (2, n2)):
        sh('ip', 'link', 'add', 'eth0', 'netns', ns, 'type', 'veth',
           'peer', 'name', f'{prefix}p{i}', 'netns', sw)
        sh('ip', '-n', ns, 'addr', 'add', f'10.10.0.{i}/24', 'dev', 'eth0')
        sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
    args = {'name': prefix + 'br', 'namespace': sw, 'stp': False,
            'ports': [prefix + 'p1', prefix + 'p2']}
    r = run_module('lab.multihost.linux_bridge', args, check=True)
    assert r['changed'] is True and prefix + 'br' not in links(sw)
    r = run_module('lab.multihost.linux_bridge', args)
    assert r['changed'] is True
    sw_links = links(sw)
    assert sw_links[prefix + 'br']['linkinfo']['info_kind'] == 'bridge'
    assert sw_links[prefix + 'p1'].get('master') == prefix + 'br'
    assert not any(op.startswith('iptables') for op in r['operations'])
    assert reach(n1, n2, '10.10.0.2')
    assert run_module('lab.multihost.linux_bridge', args)['changed'] is False
    r = run_module('lab.multihost.linux_bridge', dict(args, state='absent'))
    assert r['changed'] is True and prefix + 'br' not in links(sw)


def test_veth_name_taken_by_an_unrelated_host_veth(prefix):
    """Inside a container the node's own eth0 is a veth; declaring `eth0` in a
    namespace must not mistake it for our pair."""
    sh('ip', 'link', 'add', prefix + 'e0', 'type', 'veth', 'peer', 'name', prefix + 'zz')
    for ns in ('n1', 'n2'):
        run_module('lab.multihost.netns', {'name': prefix + ns})
    args = {'name': prefix + 'e0', 'peer': prefix + 'p0',
            'namespace': prefix + 'n1', 'peer_namespace': prefix + 'n2',
            'address': '192.168.9.1/24', 'peer_address': '192.168.9.2/24'}
    r = run_module('lab.multihost.veth', args)
    assert r.get('failed') is not True, r.get('msg')
    assert r['changed'] is True
    assert prefix + 'e0' in links(prefix + 'n1') and prefix + 'e0' in links()
    assert reach(prefix + 'n1', prefix + 'n2', '192.168.9.2')
    assert run_module('lab.multihost.veth', args)['changed'] is False
