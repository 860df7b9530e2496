"""The namespace lab on every node, and container_netns_info against `ip` and `docker inspect`."""

import json
import uuid

import pytest
from labkit import ansible_module

# The namespace lab is the same on every node and backend; how a container maps onto the
# overlay's namespace differs by backend. Three nodes add nothing.
pytestmark = pytest.mark.scenarios("default", "swarm")


def _ns_ping(host, ns, address):
    return host.run("ip netns exec %s ping -c 1 -W 2 %s", ns, address).rc == 0


@pytest.mark.scenarios("default")
def test_pair_test1_test2(host):
    links = json.loads(host.check_output("ip -n test1 -j addr show veth-test1"))
    assert links[0]["addr_info"][0]["local"] == "192.168.1.1" and "UP" in links[0]["flags"]
    links = json.loads(host.check_output("ip -n test2 -j addr show veth-test2"))
    assert links[0]["addr_info"][0]["local"] == "192.168.1.2" and "UP" in links[0]["flags"]
    assert _ns_ping(host, "test1", "192.168.1.2")
    assert _ns_ping(host, "test2", "192.168.1.1")


@pytest.mark.scenarios("default")
def test_three_namespaces_on_one_bridge(host):
    ports = json.loads(host.check_output("ip -n ns-lab-sw -j link show master br-lab"))
    assert sorted(p["ifname"] for p in ports) == ["br1-port", "br2-port", "br3-port"]
    addrs = {1: "10.10.0.1", 2: "10.10.0.2", 3: "10.10.0.3"}
    for i in addrs:
        for j, address in addrs.items():
            if i != j:
                assert _ns_ping(host, f"ns-br{i}", address), f"ns-br{i} cannot reach {address}"


def _container_netns_info(node, names):
    result = ansible_module(node.name, "lab.multihost.container_netns_info", {"names": names})
    assert not result.get("failed"), result
    return {c["name"]: c for c in result["containers"]}


@pytest.fixture(scope="module")
def mapped(node1, node2):
    """Containers on my-bridge and on demo on node1 (demo also joined from node2)."""
    tag = uuid.uuid4().hex[:6]
    image = node1.tools_image()
    run = "docker run -d --pull never --name %s --network %s %s sleep infinity"
    made = [(node1, f"m{tag}-b", "my-bridge"), (node1, f"m{tag}-o", "demo"), (node2, f"m{tag}-p", "demo")]
    try:
        for node, name, net in made:
            node.check(run % (name, net, node.tools_image() if node is not node1 else image))
        yield {name: net for _node, name, net in made[:2]}
    finally:
        for node, name, _net in made:
            node.run("docker rm -f %s", name)


def test_container_netns_info_agrees_with_ip_and_docker(node1, mapped):
    info = _container_netns_info(node1, list(mapped))
    assert set(info) == set(mapped)
    for name, net in mapped.items():
        c = info[name]
        inspect = json.loads(node1.check(f"docker inspect {name}"))[0]
        assert c["pid"] == inspect["State"]["Pid"]
        assert c["sandbox_key"] == inspect["NetworkSettings"]["SandboxKey"]
        ip_view = json.loads(node1.check(f"nsenter -t {c['pid']} -n ip -j -d addr"))
        by_name = {i["ifname"]: i for i in ip_view}
        for iface in c["interfaces"]:
            assert iface["mtu"] == by_name[iface["name"]]["mtu"]
        eth0 = next(i for i in c["interfaces"] if i["name"] == "eth0")
        want = inspect["NetworkSettings"]["Networks"][net]["IPAddress"]
        assert any(a.startswith(want + "/") for a in eth0["addresses"])
        peer = eth0["peer"]
        if net == "my-bridge":
            # The host-side veth: its index is eth0's iflink, its master is br-<network id>.
            host_link = json.loads(node1.check(f"ip -j -d link show {peer['name']}"))[0]
            assert peer["namespace"] == "host"
            assert host_link["ifindex"] == by_name["eth0"]["link_index"]
            bridge = "br-" + inspect["NetworkSettings"]["Networks"][net]["NetworkID"][:12]
            assert peer["bridge"] == host_link["master"] == bridge
        else:
            # Overlay: eth0's peer lives in the overlay's own namespace, on its bridge.
            assert peer["namespace_kind"] == "overlay", peer
            net_id = inspect["NetworkSettings"]["Networks"][net]["NetworkID"]
            assert peer.get("network") in (net_id, net_id[:10], net), peer
            in_ns = json.loads(node1.check(f"nsenter --net={peer['namespace']} ip -j -d link show {peer['name']}"))[0]
            assert in_ns["master"] == peer["bridge"]
            # ... and eth1 goes to docker_gwbridge on the host.
            eth1 = next(i for i in c["interfaces"] if i["name"] == "eth1")
            assert eth1["peer"]["bridge"] == "docker_gwbridge"
