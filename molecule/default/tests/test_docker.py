"""dockerd: the overlay backend's settings, and no TCP API."""

import json

from conftest import NODES


def _backend(host):
    return json.loads(host.file("/etc/ansible/facts.d/overlay_backend.fact").content_string)["backend"]


def test_cluster_store_points_at_own_etcd(host):
    name = host.backend.get_hostname()
    info = json.loads(host.check_output("docker info -f '{{json .}}'"))
    if _backend(host) == "cluster-store":
        assert info["ClusterStore"] == f"etcd://{NODES[name]}:2379"
        assert info["ClusterAdvertise"] == f"{NODES[name]}:2375"
    else:
        assert not info.get("ClusterStore")
        assert info["Swarm"]["LocalNodeState"] == "active"
        assert info["Swarm"]["NodeAddr"] == NODES[name]


def test_daemon_json_matches_backend(host):
    conf = json.loads(host.file("/etc/docker/daemon.json").content_string)
    has_store = {"cluster-store", "cluster-advertise"} <= conf.keys()
    assert has_store == (_backend(host) == "cluster-store"), conf


def test_swarm_autostart_only_with_swarm(host):
    unit = host.service("swarm-autostart")
    if _backend(host) == "swarm":
        assert unit.is_enabled and unit.is_running, host.run("journalctl -u swarm-autostart --no-pager -n 20").stdout
    else:
        assert not host.file("/etc/systemd/system/swarm-autostart.service").exists


def test_no_tcp_api(host):
    listening = [line.split()[3] for line in host.check_output("ss -ltnH").splitlines()]
    assert not [a for a in listening if a.endswith((":2375", ":2376"))], listening
