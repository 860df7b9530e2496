"""The fence (roles/firewall): the control plane's ports answer the lab's nodes and no one else.

The outsider is a container on the lab network at a non-node address
(.99): it must not reach etcd, serf, swarm or VXLAN on any node, while a
node reaches the same ports and the outsider still gets the app's page.
"""

import json

import pytest
from labkit import Outsider, assert_fenced, retry, run_playbook

# The fence on the tutorial's lab with each backend (swarm adds its manager port);
# three nodes add nothing the rules do not already show with two.
pytestmark = pytest.mark.scenarios("default", "swarm")


@pytest.fixture(scope="module")
def outsider(node1):
    box = Outsider(node1.release())
    yield box
    box.remove()


def _udp_drops(node):
    """Packets the fence's UDP rule dropped on node (its counter)."""
    chain = json.loads(node.check("nft -j list chain inet lab_fence input"))["nftables"]
    for item in chain:
        rule = item.get("rule")
        if rule and "udp" in json.dumps(rule["expr"]):
            return next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
    raise AssertionError(f"{node.name}: no UDP rule in table inet lab_fence: {chain}")


def test_outsider_cannot_reach_the_control_plane_a_node_can(outsider, nodes, inventory):
    for node in nodes:
        assert_fenced(outsider, nodes, node, inventory)


def test_outsider_vxlan_and_serf_datagrams_are_dropped(outsider, nodes):
    for node in nodes:
        before = _udp_drops(node)
        for port in (4789, 7946):
            outsider.send_udp(node.address, port, count=5)
        assert _udp_drops(node) >= before + 10, f"{node.name}: the outsider's datagrams were not dropped"


def test_outsider_still_gets_the_app(outsider, base_url):
    assert "Hello Container World!" in outsider.fetch(base_url + "/")


def test_fence_survives_a_dockerd_restart(outsider, nodes, inventory, base_url):
    """dockerd rewrites its firewall rules when it starts; the fence must stay. The last node's
    dockerd restarts (redis's node; on swarm a worker: the manager's clean restart costs the app
    networkdb's 60 s gossip rejoin, which bench/recovery measures)."""
    node = nodes[-1]
    node.check("systemctl restart docker")
    assert retry(lambda: node.run("docker info").rc == 0, attempts=30), f"{node.name}: dockerd did not come back"
    assert_fenced(outsider, nodes, node, inventory)
    assert retry(lambda: "Hello Container World!" in outsider.fetch(base_url + "/"), attempts=60), (
        f"the app does not answer after dockerd restarted on {node.name}:\n"
        + node.check("docker ps -a --format '{{.Names}} {{.Status}}'")
        + node.run("journalctl -u overlay-recover -u docker -b --no-pager -o cat -n 60").stdout)


# The rules are the role's, not the lab's: checked once, on the tutorial's lab.
@pytest.mark.scenarios("default")
@pytest.mark.parametrize("extra, field", [
    ('{"firewall_fenced_ports": {"tcp": [2379, 70000]}}', "firewall_fenced_ports"),
    ('{"firewall_fenced_ports": {"sctp": [2379]}}', "firewall_fenced_ports"),
    ('{"firewall_allowed_addresses": ["192.168.205.300"]}', "firewall_allowed_addresses"),
])
def test_bad_fence_input_stops_before_any_change(nodes, extra, field):
    before = {n.name: n.check("sha256sum /etc/lab-fence.nft") for n in nodes}
    rc, out = run_playbook("playbooks/firewall.yml", "-e", extra)
    assert rc != 0 and field in out, f"{extra} was not refused naming {field}:\n{out[-2000:]}"
    assert {n.name: n.check("sha256sum /etc/lab-fence.nft") for n in nodes} == before
