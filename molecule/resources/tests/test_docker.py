"""dockerd: the overlay backend's settings, and no TCP API."""

import json

from labkit import Inventory

NODES = Inventory().addresses


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


def test_overlay_recover_runs_with_dockerd(host):
    unit = host.service("overlay-recover")
    assert unit.is_enabled and unit.is_running, host.run("journalctl -u overlay-recover --no-pager -n 20").stdout
    wants = host.run("systemctl show -p WantedBy,PartOf --value overlay-recover").stdout
    assert "docker.service" in wants, wants


def test_daemon_json_is_decided_from_variables_alone(host):
    # No node-side record takes part: daemon.json is docker_daemon_options plus the
    # backend's keys; the drop-in's parts: dockerd after etcd with cluster-store, the recovery
    # engine's start and stop hooks with swarm.
    assert not host.file("/etc/ansible/facts.d/docker_daemon.fact").exists
    conf = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert conf["log-driver"] == "json-file" and conf["log-opts"] == {"max-size": "10m", "max-file": "3"}, conf
    dropin = host.file("/etc/systemd/system/docker.service.d/lab.conf").content_string
    assert ("After=etcd.service" in dropin) == (_backend(host) == "cluster-store"), dropin
    assert ("overlay-recover --before-start" in dropin) == (_backend(host) == "swarm"), dropin
    after = host.run("systemctl show -p After --value docker").stdout
    assert ("etcd.service" in after) == (_backend(host) == "cluster-store"), after


def test_no_tcp_api(host):
    listening = [line.split()[3] for line in host.check_output("ss -ltnH").splitlines()]
    assert not [a for a in listening if a.endswith((":2375", ":2376"))], listening
