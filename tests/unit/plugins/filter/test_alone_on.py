"""Unit tests of the filter lab.multihost.alone_on: the container whose replacement leaves its
overlay without a container on the node (Docker 20.10 then leaves a dockerd thread behind)."""

from ansible_collections.lab.multihost.plugins.filter.alone_on import FilterModule

alone_on = FilterModule().filters()['alone_on']


def test_the_app_alone_on_demo_and_redis_beside_it():
    containers = {'app': {'running': True, 'networks': ['demo']},
                  'other': {'running': True, 'networks': ['my-bridge']}}
    assert alone_on(containers, 'app', 'demo') is True
    containers['redis'] = {'running': True, 'networks': ['demo']}
    assert alone_on(containers, 'app', 'demo') is False


def test_a_stopped_neighbour_does_not_count_and_a_stopped_container_is_not_alone():
    containers = {'app': {'running': True, 'networks': ['demo']}, 'redis': {'running': False, 'networks': ['demo']}}
    assert alone_on(containers, 'app', 'demo') is True
    assert alone_on(containers, 'redis', 'demo') is False


def test_no_engine_read_or_another_network():
    assert alone_on({}, 'app', 'demo') is False
    assert alone_on(None, 'app', 'demo') is False
    assert alone_on({'app': {'running': True, 'networks': ['demo']}}, 'app', 'my-bridge') is False
