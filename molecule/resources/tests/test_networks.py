"""Overlay `demo` across the nodes and the user-defined bridge `my-bridge`."""

import json
import uuid

import pytest
from labkit import retry, run_playbook

# The overlay differs by backend (scope, names, what etcd holds); three nodes add nothing here.
pytestmark = pytest.mark.scenarios("default", "swarm")

RUN = "docker run -d --pull never --restart unless-stopped --name %s --network %s %s sleep infinity"


def _inspect(node, net):
    return json.loads(node.check(f"docker network inspect {net}"))[0]


@pytest.fixture(scope="module")
def demo_pair(node1, node2):
    """One container on `demo` on each node; removed afterwards."""
    tag = uuid.uuid4().hex[:6]
    pair = []
    for node in (node1, node2):
        name = f"t{tag}-{node.name[-1]}"
        node.check(RUN % (name, "demo", node.tools_image()))
        pair.append((node, name))
    yield pair
    for node, name in pair:
        node.run("docker rm -f %s", name)


def _ping(node, container, target):
    return node.run("docker exec %s ping -c 1 -W 2 %s", container, target).rc == 0


def _address(node, container):
    nets = json.loads(node.check(f"docker inspect {container}"))[0]["NetworkSettings"]["Networks"]
    return nets["demo"]["IPAddress"]


def test_demo_is_an_overlay_on_every_node(nodes, demo_pair):
    # demo_pair: swarm shows an overlay on a worker once a container there uses it.
    for node in nodes:
        net = _inspect(node, "demo")
        assert net["Driver"] == "overlay"
        assert net["Scope"] == ("global" if node.backend() == "cluster-store" else "swarm")
        assert [c["Subnet"] for c in net["IPAM"]["Config"]] == ["10.0.0.0/24"]


def test_demo_is_recorded_in_etcd(node1, nodes):
    if node1.backend() != "cluster-store":
        # Swarm keeps networks in its own raft store: Docker writes nothing to etcd.
        keys = node1.check("lab-etcdctl get --prefix /docker --keys-only")
        assert keys.strip() == ""
        return
    v2 = "ETCDCTL_API=2 lab-etcdctl "
    net_id = _inspect(node1, "demo")["Id"]
    record = json.loads(node1.check(v2 + f"get /docker/network/v1.0/network/{net_id}"))
    assert record["name"] == "demo" and record["networkType"] == "overlay"
    registered = node1.check(v2 + "ls /docker/nodes").split()
    assert sorted(registered) == sorted(f"/docker/nodes/{n.address}:2375" for n in nodes)


def test_containers_reach_each_other_by_address_and_name(demo_pair):
    (n1, c1), (n2, c2) = demo_pair
    assert retry(lambda: _ping(n1, c1, c2)), f"{c1} on {n1.name} cannot ping {c2} by name"
    assert retry(lambda: _ping(n2, c2, c1)), f"{c2} on {n2.name} cannot ping {c1} by name"
    assert _ping(n1, c1, _address(n2, c2))
    assert _ping(n2, c2, _address(n1, c1))


def test_overlay_mtu_is_underlay_minus_50(demo_pair):
    n1, c1 = demo_pair[0]
    underlay = int(n1.check("cat /sys/class/net/eth0/mtu"))
    overlay = int(n1.check(f"docker exec {c1} cat /sys/class/net/eth0/mtu"))
    assert overlay == underlay - 50
    # The largest unfragmented ICMP payload crosses: MTU - 20 (IP) - 8 (ICMP).
    n2, c2 = demo_pair[1]
    size = overlay - 28
    res = n1.run(f"docker exec {c1} ping -c 1 -W 2 -M do -s {size} {c2}")
    assert res.rc == 0, res.stdout + res.stderr


def test_duplicate_name_across_nodes(demo_pair):
    (n1, c1), (n2, _c2) = demo_pair
    res = n2.run(RUN % (c1, "demo", n2.tools_image()))
    n2.run("docker rm -f %s", c1)  # refused or not, `docker run` may have created it
    if n1.backend() == "cluster-store":
        # One name space for the whole overlay, kept in etcd.
        assert res.rc != 0 and "already exists" in res.stderr, res.stderr
    else:
        # Swarm keeps container names per node: the same name is accepted.
        assert res.rc == 0, res.stderr


@pytest.mark.scenarios("default")  # a local bridge: the same on every backend
def test_my_bridge_resolves_names_default_bridge_does_not(node1):
    tag = uuid.uuid4().hex[:6]
    image = node1.tools_image()
    names = [f"b{tag}-{i}" for i in range(4)]
    try:
        node1.check(RUN % (names[0], "my-bridge", image))
        node1.check(RUN % (names[1], "my-bridge", image))
        node1.check(RUN % (names[2], "bridge", image))
        node1.check(RUN % (names[3], "bridge", image))
        assert _ping(node1, names[0], names[1])
        assert _ping(node1, names[1], names[0])
        assert node1.run("docker exec %s getent hosts %s", names[2], names[3]).rc != 0
        assert not _ping(node1, names[2], names[3])
    finally:
        for name in names:
            node1.run("docker rm -f %s", name)


def test_overlay_survives_a_dockerd_restart(demo_pair):
    (n1, c1), (n2, c2) = demo_pair
    n2.check("systemctl restart docker")
    assert retry(lambda: n2.run("docker info").rc == 0)
    assert retry(lambda: _ping(n1, c1, c2), attempts=30), f"{c1} cannot ping {c2} after restarting dockerd on {n2.name}"
    assert retry(lambda: _ping(n2, c2, c1), attempts=30)


def _running(node):
    return set(node.check("docker ps -q --no-trunc").split())


@pytest.mark.scenarios("swarm")
def test_worker_restarted_while_the_manager_is_unreachable_gets_its_containers_back(demo_pair):
    """dockerd gives up attaching them to `demo` (moby/moby#32607); overlay-recover starts them."""
    (n1, c1), (n2, c2) = demo_pair
    before = _running(n2)
    block = f"iptables -%s OUTPUT -d {n1.address} -p tcp --dport 2377 -j DROP"
    n2.check(block % "I")
    try:
        n2.check("systemctl restart docker")  # about 70 s: dockerd waits for the manager, then gives up
        state = n2.check("docker inspect -f '{{.State.Status}}: {{.State.Error}}' %s", c2).strip()
    finally:
        n2.check(block % "D")
    assert state.startswith("exited: Could not attach to network"), f"the failure did not happen: {c2} is {state}"
    back = retry(lambda: _running(n2) >= before, attempts=60)
    assert back, (f"{n2.name}: not restarted: {before - _running(n2)}\n"
                  + n2.run("journalctl -u overlay-recover --no-pager -n 20").stdout)
    assert retry(lambda: _ping(n1, c1, c2), attempts=30), f"{c1} cannot ping {c2} once the manager answers again"
    assert retry(lambda: _ping(n2, c2, c1), attempts=30)


ESP_STATE = ("unshare --net ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 mode transport"
             " aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 64")


def test_encrypted_overlay_needs_swarm_and_kernel_ipsec(node1, node2):
    """Refused before anything changes where it cannot work; where the kernel has ESP it carries traffic."""
    net = "lab-enc"
    overlay = {"name": net, "driver": "overlay", "subnet": "10.9.0.0/24", "encrypted": True}
    spec = json.dumps({"networks_list": [overlay]})
    esp = node1.run(ESP_STATE)
    names = [f"e{uuid.uuid4().hex[:6]}-{n}" for n in (1, 2)]
    try:
        rc, out = run_playbook("playbooks/networks.yml", "-e", spec)
        if node1.backend() == "swarm" and esp.rc == 0:
            assert rc == 0, out
            for node, name in zip((node1, node2), names):
                node.check(RUN % (name, net, node.tools_image()))
            assert retry(lambda: _ping(node1, names[0], names[1]), attempts=30)
        else:
            if node1.backend() != "swarm":
                assert "encrypted: true needs the swarm backend" in out, out
            else:  # a kernel without ESP, like the CI machine's (roles/networks/README.md)
                assert "encrypted: true needs IPsec ESP" in out and esp.stderr.strip() in out, out
            assert rc != 0
            assert node1.run("docker network inspect %s", net).rc != 0, f"{net} was created although refused"
    finally:
        for node, name in zip((node1, node2), names):
            node.run("docker rm -f %s", name)
        node1.run("docker network rm %s", net)
