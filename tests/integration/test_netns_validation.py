"""Every validation rule: the error names the field and the rule, and the
run changes nothing on the host."""

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.netns import engine
from labkit import links, netns_names

CASES = [
    # (spec builder, field in message, rule text in message)
    (lambda p: {'veths': [{'name': p + 'x' * 9, 'peer': p + 'b'}]},
     'veths[0].name', 'longer than 15 bytes'),
    (lambda p: {'veths': [{'name': p + 'ä' * 5, 'peer': p + 'b'}]},
     'veths[0].name', 'longer than 15 bytes'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'b%d'}]},
     'veths[0].peer', 'no "%"'),
    (lambda p: {'veths': [{'name': p + 'a b', 'peer': p + 'b'}]},
     'veths[0].name', 'may only contain [A-Za-z0-9_.-]'),
    (lambda p: {'veths': [{'name': p + 'a/b', 'peer': p + 'b'}]},
     'veths[0].name', 'may only contain [A-Za-z0-9_.-]'),
    (lambda p: {'veths': [{'name': '', 'peer': p + 'b'}]},
     'veths[0].name', 'non-empty'),
    (lambda p: {'bridges': [{'name': '..'}]},
     'bridges[0].name', 'must not be "." or ".."'),
    (lambda p: {'namespaces': [p + '/etc']},
     'namespaces[0].name', 'must not contain "/"'),
    (lambda p: {'namespaces': ['.']},
     'namespaces[0].name', 'must not be "." or ".."'),
    (lambda p: {'namespaces': ['..']},
     'namespaces[0].name', 'must not be "." or ".."'),
    (lambda p: {'namespaces': [{'name': ''}]},
     'namespaces[0].name', 'non-empty'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'b', 'peer_namespace': ''}]},
     'veths[0].peer_namespace', 'non-empty'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'b', 'address': '192.168.1.300/24'}]},
     'veths[0].address', 'not a valid CIDR'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'b', 'address': '10.0.0.1/33'}]},
     'veths[0].address', 'not a valid CIDR'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'b', 'peer_address': ['10.0.0.1']}]},
     'veths[0].peer_address', 'address/prefix'),
    (lambda p: {'bridges': [{'name': p + 'br', 'address': 'fe80::1/129'}]},
     'bridges[0].address', 'not a valid CIDR'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'b', 'mtu': 67}]},
     'veths[0].mtu', 'below 68'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'b', 'mtu': 'big'}]},
     'veths[0].mtu', 'must be an integer'),
    (lambda p: {'state': 'gone', 'namespaces': [p]},
     'state', '"present" or "absent"'),
    (lambda p: {'veths': [{'name': p + 'a', 'peer': p + 'a'}]},
     'veths[0].peer', 'need different names'),
]


@pytest.mark.parametrize('build,field,rule', CASES)
def test_validation_rule(prefix, build, field, rule):
    spec = build(prefix)
    # a valid namespace first: validation must fail before anything is created
    spec.setdefault('namespaces', [])
    spec['namespaces'] = [prefix + 'ok'] + list(spec['namespaces'])
    if field.startswith('namespaces['):
        field = field.replace('[0]', '[1]')
    with pytest.raises(engine.NetnsError) as err:
        engine.converge(spec)
    msg = err.value.msg
    assert msg.startswith(field + ':'), msg
    assert rule in msg, msg
    assert prefix + 'ok' not in netns_names()
    assert not [n for n in links() if n.startswith(prefix)]
