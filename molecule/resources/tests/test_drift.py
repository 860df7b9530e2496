"""By-hand changes to a converged lab, all at once: one site.yml run repairs every one of them,
and the run after it changes nothing. The re-run reads the node, not a record of the last run."""

import json

import pytest
from labkit import Outsider, assert_converged, retry, run_playbook, running, wait_healthy

PKI = "/etc/lab/pki"
SECRET = "/opt/lab/secrets/redis-password"
# Where releases before the engine packages kept the engines' files (removed on sight).
LIB = "/usr/local/lib/lab-multihost"
FLAT = [f"{LIB}/overlay_recover.py", f"{LIB}/ansible_collections/lab/multihost/plugins/module_utils/netns_engine.py"]

pytestmark = [pytest.mark.scenarios("default"), pytest.mark.disruptive]


def _sha(node, path):
    return node.check("sha256sum %s", path).split()[0]


def _ping_ns(node, ns, address):
    return node.run("ip netns exec %s ping -c 1 -W 2 %s", ns, address).rc == 0


@pytest.fixture
def outsider(node1):
    box = Outsider(node1.release())
    yield box
    box.remove()


def test_every_by_hand_change_is_repaired_by_one_run(nodes, app_node, redis_node, base_url, outsider):
    node1, node2 = nodes
    daemon = {n.name: _sha(n, "/etc/docker/daemon.json") for n in nodes}
    env = _sha(node2, "/etc/default/etcd")

    conf = json.loads(node1.check("cat /etc/docker/daemon.json"))
    node1.check("echo %s > /etc/docker/daemon.json", json.dumps({**conf, "debug": True}))  # daemon.json edited
    node2.check("echo 'ETCD_LOG_LEVEL=\"debug\"' >> /etc/default/etcd")  # etcd's env file edited
    node1.check("systemctl disable docker overlay-recover")  # units disabled
    node2.check("systemctl disable etcd && systemctl stop lab-fence")  # a unit disabled, the fence stopped
    node2.check("rm %s/etcdctl.key", PKI)  # a node key deleted
    redis_node.check("chmod 0644 %s", SECRET)  # a secret file's mode
    app_node.check("docker rm -f app")  # the app container removed
    node1.check("docker network rm my-bridge")  # a network removed
    node2.check("ip netns del test1")  # a namespace of the namespace lab deleted
    node1.check("nft flush table inet lab_fence")  # the fence flushed
    node2.check("touch %s %s", *FLAT)  # the engines' files of an earlier release
    assert outsider.connects(node1.address, 2379), "the flushed fence still kept the outsider out"

    rc, out = run_playbook("site.yml")
    stats = assert_converged(rc, out, what="site.yml after the by-hand changes")
    assert all(s["changed"] > 0 for s in stats.values()), stats

    assert {n.name: _sha(n, "/etc/docker/daemon.json") for n in nodes} == daemon
    assert node1.check("docker info -f '{{.Debug}}'").strip() == "false", "dockerd did not restart on its file"
    assert _sha(node2, "/etc/default/etcd") == env
    for node, unit in ((node1, "docker"), (node1, "overlay-recover"), (node2, "etcd"), (node2, "lab-fence")):
        assert node.run("systemctl is-enabled %s", unit).stdout.strip() == "enabled", f"{node.name}: {unit}"
        assert node.run("systemctl is-active %s", unit).stdout.strip() == "active", f"{node.name}: {unit}"
    assert node2.check("stat -c %s %s/etcdctl.key", "%a", PKI).strip() == "600"
    node2.check("lab-etcdctl endpoint health")
    assert redis_node.check("stat -c %s %s", "%a", SECRET).strip() == "640"
    assert retry(lambda: running(app_node, ["app"]))
    wait_healthy(redis_node, base_url)
    assert node1.run("docker network inspect my-bridge").rc == 0
    assert _ping_ns(node2, "test1", "192.168.1.2") and _ping_ns(node2, "test2", "192.168.1.1")
    for node in nodes:
        assert not outsider.connects(node.address, 2379), f"the outsider reaches etcd on {node.name}"
    assert [p for p in FLAT if node2.run("test -e %s", p).rc == 0] == [], "an earlier release's engine file is left"

    # Right after the repair, not only in test_site's final run (which would itself repair a half-done one).
    rc, out = run_playbook("site.yml")
    assert_converged(rc, out, changed=0, what="the run after the repair")


def _swarm_state(node):
    return node.check("docker info -f '{{.Swarm.LocalNodeState}}'").strip()


@pytest.mark.scenarios("swarm")
def test_a_worker_that_left_the_swarm_by_hand_is_joined_again_by_one_run(nodes, redis_node, base_url):
    """The swarm stage skips forming the swarm only when every node reads itself active."""
    worker = next(n for n in nodes if n.check("docker info -f '{{.Swarm.ControlAvailable}}'").strip() == "false")
    worker.check("docker swarm leave --force")
    assert _swarm_state(worker) == "inactive"

    rc, out = run_playbook("site.yml")
    stats = assert_converged(rc, out, what="site.yml after the worker left the swarm")
    assert stats[worker.name]["changed"] > 0, stats
    assert _swarm_state(worker) == "active"
    if worker.name == redis_node.name:
        assert retry(lambda: running(redis_node, ["redis"]))
    wait_healthy(worker, base_url)

    rc, out = run_playbook("site.yml")
    assert_converged(rc, out, changed=0, what="the run after the rejoin")
