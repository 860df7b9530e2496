"""etcd: one member per node, named after it, healthy through v2 and v3, bound to the lab address."""

import json

import pytest
from labkit import Inventory, retry, run_playbook

NODES = Inventory().addresses

# The etcd role's wrapper: the member's client certificate and its local endpoint.
V3 = "lab-etcdctl "
V2 = "ETCDCTL_API=2 lab-etcdctl "


def test_members_are_the_nodes(host):
    members = json.loads(host.check_output(V3 + "member list -w json"))["members"]
    got = {m["name"]: m["peerURLs"] for m in members}
    assert got == {n: [f"https://{a}:2380"] for n, a in NODES.items()}


def test_v2_api_served_only_for_the_cluster_store(host):
    backend = json.loads(host.file("/etc/ansible/facts.d/overlay_backend.fact").content_string)["backend"]
    res = host.run(V2 + "cluster-health")
    if backend == "cluster-store":
        healthy = [line for line in res.stdout.splitlines() if line.startswith("member ") and "is healthy" in line]
        assert len(healthy) == len(NODES) and "cluster is healthy" in res.stdout, res.stdout + res.stderr
    else:
        assert res.rc != 0, "v2 API is served although nothing needs it"


def test_healthy_through_v3(host):
    res = host.run(V3 + "endpoint health --cluster")
    assert res.rc == 0, res.stdout + res.stderr
    for address in NODES.values():
        assert f"https://{address}:2379 is healthy" in res.stdout + res.stderr


def test_listens_only_on_lab_and_loopback(host):
    name = host.backend.get_hostname()
    listening = {line.split()[3] for line in host.check_output("ss -ltnH").splitlines()}
    assert f"{NODES[name]}:2379" in listening
    assert "127.0.0.1:2379" in listening
    assert f"{NODES[name]}:2380" in listening
    etcd_ports = {a for a in listening if a.endswith((":2379", ":2380"))}
    wildcard = {a for a in etcd_ports if a.rsplit(":", 1)[0] in ("*", "0.0.0.0", "[::]")}
    assert not wildcard, wildcard


@pytest.mark.disruptive
@pytest.mark.scenarios("default")  # two members; test_ha.py wipes one of three
def test_member_with_wiped_data_rejoins(node1, node2):
    key = "/lab/wipe-test"
    node1.check(V3 + f"put {key} survived")
    node2.check("systemctl stop etcd && rm -rf /var/lib/etcd/cluster/member")
    rc, out = run_playbook("playbooks/etcd.yml")
    assert rc == 0, out
    members = json.loads(node2.check(V3 + "member list -w json"))["members"]
    assert sorted(m["name"] for m in members) == sorted(NODES)
    assert retry(lambda: node2.run(V3 + "endpoint health --cluster").rc == 0)
    # node2 serves the data again from its own copy (serializable read).
    local = f"lab-etcdctl --endpoints=https://{node2.address}:2379 "
    assert node2.check(local + f"get {key} --print-value-only --consistency=s").strip() == "survived"
    node1.check(V3 + f"del {key}")
