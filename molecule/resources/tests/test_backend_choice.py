"""The overlay backend refuses impossible combinations before it changes anything."""

import re

import pytest
from labkit import run_playbook

# The same refusals on every lab: checked on the two-node lab; swarm's own refusal on swarm.
pytestmark = pytest.mark.scenarios("default")

OVERLAY = "playbooks/overlay.yml"


def _snapshot(node):
    return (
        node.check("sha256sum /etc/docker/daemon.json"),
        node.check("systemctl show -p ActiveEnterTimestamp docker"),
        node.check("sha256sum /etc/lab/pki/*"),
    )


@pytest.fixture
def before(nodes):
    snap = {n.name: _snapshot(n) for n in nodes}
    yield snap
    for n in nodes:
        assert _snapshot(n) == snap[n.name], f"{n.name}: daemon.json, dockerd or a certificate changed"


@pytest.mark.scenarios("swarm")
def test_cluster_store_refused_on_docker_23_and_later(node1, before):
    assert int(node1.check("docker version -f '{{.Server.Version}}'").split(".")[0]) >= 23
    rc, out = run_playbook(OVERLAY, "-e", "overlay_backend_mode=cluster-store")
    assert rc != 0
    assert "cluster-store needs Docker < 23.0" in out and "overlay_backend_mode: swarm" in out, out


def test_cluster_store_accepted_below_docker_23(node1, before):
    rc, out = run_playbook(OVERLAY, "-e", "overlay_backend_mode=cluster-store")
    assert rc == 0, out
    assert re.search(rf"{node1.name}\s*:.*changed=0", out), out


# pki.yml: the certificates' SANs come from it, and nothing is issued for it.
@pytest.mark.parametrize("playbook", [OVERLAY, "playbooks/pki.yml"])
def test_advertise_address_must_be_on_the_node(before, playbook):
    rc, out = run_playbook(playbook, "-e", "lab_address=192.0.2.77")
    assert rc != 0
    assert "lab_address: 192.0.2.77 is not an address of" in out, out


def test_cluster_store_refused_without_etcd_v2(node1, before):
    # A throwaway etcd on loopback with the v2 API off, beside the real one, on the
    # member's certificate (its SANs include 127.0.0.1) like the real one.
    pki = "/etc/lab/pki"
    node1.check(
        "systemd-run --unit lab-etcd-nov2 --uid etcd /usr/bin/etcd --name nov2 --data-dir /tmp/etcd-nov2"
        " --listen-client-urls https://127.0.0.1:12379 --advertise-client-urls https://127.0.0.1:12379"
        f" --cert-file {pki}/etcd.crt --key-file {pki}/etcd.key --trusted-ca-file {pki}/ca.crt --client-cert-auth"
        " --listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380"
        " --initial-cluster nov2=http://127.0.0.1:12380 --enable-v2=false"
    )
    try:
        node1.check("for i in $(seq 30); do lab-etcdctl --endpoints=https://127.0.0.1:12379 endpoint health"
                    " >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1")
        rc, out = run_playbook(OVERLAY, "--limit", node1.name, "-e", "overlay_backend_etcd_port=12379")
        assert rc != 0
        assert "serves no v2 API" in out and "etcd_enable_v2: true" in out, out
    finally:
        node1.run("systemctl stop lab-etcd-nov2; rm -rf /tmp/etcd-nov2")


def test_plain_tcp_api_is_refused(before):
    opts = '{"docker_daemon_options": {"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}}'
    rc, out = run_playbook("playbooks/docker.yml", "-e", opts)
    assert rc != 0
    assert "docker_daemon_options.hosts: a tcp:// listener needs TLS client verification" in out, out


def test_unknown_backend_is_refused_by_the_argument_spec(before):
    rc, out = run_playbook(OVERLAY, "-e", "overlay_backend_mode=vxlan-by-hand")
    assert rc != 0
    assert "overlay_backend_mode" in out and "cluster-store" in out and "swarm" in out, out
