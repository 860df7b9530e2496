"""container_netns_info against a real container, checked with ip and
docker inspect. Skipped only when no Docker engine answers."""

import json
import shutil
import subprocess

import pytest
from labkit import ip_json, run_module, sh


def engine_answers():
    if not shutil.which('docker'):
        return False
    proc = subprocess.run(['docker', 'info', '--format', '{{.ServerVersion}}'],
                          capture_output=True, text=True, check=False, timeout=20)
    return proc.returncode == 0 and proc.stdout.strip() != ''


def local_image():
    for image in ('debian:bookworm', 'debian:trixie', 'busybox'):
        if subprocess.run(['docker', 'image', 'inspect', image], capture_output=True,
                          check=False).returncode == 0:
            return image
    return None


@pytest.fixture
def container(prefix):
    if not engine_answers():
        pytest.skip('no Docker engine answers `docker info` on this machine')
    image = local_image()
    if image is None:
        pytest.fail('a Docker engine runs but no local debian/busybox image exists')
    name = prefix + '-cni'
    sh('docker', 'run', '-d', '--rm', '--name', name, image, 'sleep', '120')
    try:
        yield name
    finally:
        subprocess.run(['docker', 'rm', '-f', name], capture_output=True, check=False)


def test_container_eth0_maps_to_host_veth_on_docker0(container):
    r = run_module('lab.multihost.container_netns_info', {'names': [container]})
    assert r['changed'] is False
    [c] = r['containers']
    inspect = json.loads(sh('docker', 'inspect', container).stdout)[0]
    assert c['pid'] == inspect['State']['Pid']
    assert c['sandbox_key'] == inspect['NetworkSettings']['SandboxKey']
    eth0 = [i for i in c['interfaces'] if i['name'] == 'eth0'][0]
    net = inspect['NetworkSettings']['Networks']['bridge']
    assert eth0['addresses'] == [f"{net['IPAddress']}/{net['IPPrefixLen']}"]
    # the container's own view, straight from ip
    inner = json.loads(sh('nsenter', '-t', str(c['pid']), '-n',
                          'ip', '-j', '-d', 'link', 'show', 'eth0').stdout)[0]
    assert eth0['ifindex'] == inner['ifindex'] and eth0['mtu'] == inner['mtu']
    host = {link['ifindex']: link for link in ip_json('-d', 'link', 'show')}
    peer = host[inner['link_index']]
    assert peer['link_index'] == inner['ifindex']
    assert eth0['peer'] == {'name': peer['ifname'], 'ifindex': peer['ifindex'],
                            'bridge': 'docker0', 'namespace': 'host'}
    assert peer.get('master') == 'docker0'


def test_all_containers_includes_ours(container):
    r = run_module('lab.multihost.container_netns_info', {'docker_cli': 'docker'})
    assert container in [c['name'] for c in r['containers']]
