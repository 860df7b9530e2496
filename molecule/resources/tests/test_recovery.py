"""Power loss, host restarts and a bad daemon.json: the lab heals itself and nothing is lost
(the containers, the counter, the fence and the namespace lab).

A node is a container with systemd as PID 1: `docker kill` + `docker start` of it is a
power loss (nothing is shut down), `docker restart -t 60` a clean reboot.
"""

import json
import re
import subprocess
import time

import pytest
from labkit import (
    ROOT,
    Outsider,
    ansible_env,
    assert_converged,
    assert_fenced,
    count,
    fetch,
    fresh_container_reaches,
    hits,
    impair,
    impairments,
    parse,
    retry,
    run_playbook,
    running,
    should_run_on_demo,
    wait_healthy,
)

# The two-node lab on both backends; the three-node lab has its own (test_ha.py). Repairs
# are asserted here; that the next run changes nothing is the scenario's final proof (test_site.py).
pytestmark = pytest.mark.disruptive

# Unattended recovery must be done within this many seconds of the node's boot.
RECOVERY_SECONDS = 90
# The delay put on the redis node's VXLAN traffic across its power loss.
IMPAIR_MS = 20


def _peer(nodes, node):
    return next(n for n in nodes if n.name != node.name)


def _settle():
    # redis fsyncs its append-only file every second (appendfsync everysec).
    time.sleep(1.5)


def _power_cycle_heals_unattended(node, nodes, app_node, base_url):
    other = _peer(nodes, node)
    expected = should_run_on_demo(node)
    before = count(other, base_url)
    _settle()

    node.power_off()
    powered = str(int(time.time()))
    node.power_on()
    started = time.monotonic()
    node.wait_booted()

    back = retry(lambda: running(node, expected), attempts=RECOVERY_SECONDS // 2, delay=2)
    took = time.monotonic() - started
    assert back, (f"{node.name}: {expected} not all running {took:.0f} s after power-on:\n"
                  + node.check("docker ps -a --format '{{.Names}} {{.Status}}'")
                  + node.check("journalctl -u overlay-recover -u etcd -b --no-pager -n 60"))
    wait_healthy(other, base_url, attempts=30)
    if node.backend() == "swarm":
        # dockerd waited, and kept its new gossip identity: the worker until the manager no longer
        # took its old one for alive, the manager the whole wait (the worker checks its port).
        log = node.check("journalctl -u docker -u overlay-recover --no-pager -o cat --since @%s", powered)
        manager = node.check("docker info -f '{{.Swarm.ControlAvailable}}'").strip() == "true"
        waited = "for the swarm to forget its identity" if manager else "no longer takes the old identity for alive"
        assert waited in log and "unknown to memberlist" not in log, log[-3000:]
    # Its containers reach their peers across the overlay, and new ones can join it there.
    target = "redis" if node.name == app_node.name else "app"
    assert retry(lambda: fresh_container_reaches(node, target), attempts=10), (
        f"a fresh container on demo on {node.name} cannot reach {target}")
    after = count(other, base_url)
    assert after == before + 1, f"after {node.name} lost power the counter went from {before} to {after}"
    # The namespace lab is back before any re-run (netns-lab.service, /run/netns is emptied by a boot).
    assert retry(lambda: _netns_lab_answers(node), attempts=10), (
        f"{node.name}: the namespace lab is not back after the boot:\n"
        + node.check("ip netns list; journalctl -u netns-lab -b --no-pager -n 20"))


# The tutorial's namespace lab: test1 <-> test2, and ns-br1..3 on br-lab.
NETNS_LAB_PINGS = [("test1", "192.168.1.2"), ("test2", "192.168.1.1"),
                   ("ns-br1", "10.10.0.2"), ("ns-br2", "10.10.0.3"), ("ns-br3", "10.10.0.1")]


def _netns_lab_answers(node):
    return all(node.run("ip netns exec %s ping -c 1 -W 2 %s", ns, addr).rc == 0 for ns, addr in NETNS_LAB_PINGS)


@pytest.mark.scenarios("default", "swarm")
def test_power_loss_of_each_node_heals_unattended(nodes, app_node, base_url, inventory):
    """Each node in turn loses power and boots (about 75 s on swarm, where dockerd waits until the
    other node no longer takes its old gossip identity for alive; 40 s on cluster-store); the swarm
    worker waits for its manager before its containers attach."""
    for n in nodes:
        n.tools_image()  # loaded before the power loss, as any image the user has
    outsider = Outsider(nodes[0].release())
    # An impairment is an experiment the user declared: it outlives the redis node's power loss
    # (cluster-store; test_impair.py has the rest of it).
    impaired = nodes[-1] if nodes[-1].backend() != "swarm" else None
    try:
        if impaired:
            impair(impaired.name, f"impair_delay={IMPAIR_MS}ms")
        for node in nodes:
            _power_cycle_heals_unattended(node, nodes, app_node, base_url)
            assert_fenced(outsider, nodes, node, inventory)  # the fence is back with the node
            if node is impaired:
                [imp] = impairments(node.name)
                assert imp["in_force"] and imp["delay"] == f"{IMPAIR_MS}ms", imp
                peer = _peer(nodes, node)
                out = peer.check("docker run --rm --pull never --network demo %s ping -c 5 -i 0.2 -W 2 redis",
                                 peer.tools_image())
                rtts = sorted(float(t) for t in re.findall(r"time=([0-9.]+) ms", out))
                assert rtts and rtts[len(rtts) // 2] >= IMPAIR_MS - 2, out
    finally:
        outsider.remove()
        if impaired:
            impair(impaired.name, "impair_clear=true")


@pytest.mark.scenarios("default")
def test_without_quorum_site_yml_stops_early_with_one_message(nodes, app_node, base_url):
    """Two members tolerate no failure: with one down, site.yml stops before changing anything."""
    down, other = nodes[0], nodes[1]
    down.power_off()
    try:
        started = time.monotonic()
        rc, out = run_playbook("site.yml")
        took = time.monotonic() - started
    finally:
        down.power_on()
    assert rc != 0, out[-3000:]
    # One failed task, on one host, that names the member and what to do.
    assert len(re.findall(r"^fatal: .*etcd quorum lost", out, re.M)) == 1, out[-3000:]
    assert f"({down.name} down)" in out and "docker start" in out, out[-3000:]
    assert "WARNING: etcd has 2 members" in out
    assert took < 120, f"site.yml took {took:.0f} s to stop"
    assert re.search(rf"^{other.name}\s+: ok=\d+\s+changed=0 ", out, re.M), out[-2000:]
    down.wait_booted()
    wait_healthy(other if down is app_node else app_node, base_url, attempts=60)


@pytest.mark.scenarios("default")
def test_site_yml_repairs_what_the_unit_did_not(app_node, redis_node, base_url, nodes):
    """With overlay-recover disabled, the power loss leaves the app down; site.yml repairs it."""
    other = _peer(nodes, app_node)
    before = hits(redis_node)
    _settle()
    app_node.check("systemctl disable overlay-recover")
    app_node.power_off()
    app_node.power_on()
    app_node.wait_booted()

    def failed():  # dockerd tried to start the app and could not join demo
        state = app_node.check("docker inspect -f '{{.State.Running}} {{.State.Error}}' app").strip()
        return state if state.startswith("false") and "network" in state else ""
    assert retry(failed, attempts=10, delay=1), "the fault did not happen: " + app_node.check(
        "docker inspect -f '{{.State.Running}} {{.State.Error}}' app")

    rc, out = run_playbook("site.yml")
    stats = assert_converged(rc, out, what="site.yml after a power loss with nothing repaired")
    assert stats[app_node.name]["changed"] > 0, stats
    wait_healthy(other, base_url)
    n = parse(*fetch(other, base_url + "/")[0])[0]
    assert n == before + 1, f"the counter went from {before} to {n}"
    assert app_node.run("systemctl is-enabled overlay-recover").stdout.strip() == "enabled"


@pytest.mark.scenarios("default", "swarm")
def test_host_restart_make_lab_starts_the_same_nodes(nodes, app_node, redis_node, base_url, inventory):
    """The host restarts: the nodes are stopped (with their stop timeout) and come back in any order.
    Here the redis node boots first, a few seconds before `make lab` starts the other: on swarm the
    worker's dockerd must not start before its manager's, or the manager never learns redis's name."""
    ids = {n.name: n.container_id() for n in nodes}
    volumes = {n.name: n.name + "-docker" for n in nodes}
    before = hits(redis_node)
    _settle()
    subprocess.run(["docker", "stop", *ids], check=True, capture_output=True, timeout=180)
    subprocess.run(["docker", "start", redis_node.name], check=True, capture_output=True, timeout=60)
    time.sleep(5)
    res = subprocess.run([str(ROOT / "scripts/lab.sh"), "up"], cwd=ROOT, capture_output=True, text=True,
                         env=ansible_env(LAB=inventory.lab), timeout=1200, check=False)
    assert res.returncode == 0, f"make lab after a host restart failed:\n{(res.stdout + res.stderr)[-5000:]}"
    assert {n.name: n.container_id() for n in nodes} == ids, "make lab replaced node containers"
    for n in nodes:
        mounts = json.loads(subprocess.run(["docker", "inspect", "-f", "{{json .Mounts}}", n.name],
                                           capture_output=True, text=True, check=True).stdout)
        assert volumes[n.name] in [m.get("Name") for m in mounts], mounts
    wait_healthy(app_node, base_url)
    n = parse(*fetch(app_node, base_url + "/")[0])[0]
    assert n == before + 1, f"after the host restart the counter went from {before} to {n}"


@pytest.mark.scenarios("default", "swarm")
def test_graceful_reboot_of_the_redis_node(app_node, redis_node, base_url):
    last = parse(*fetch(app_node, base_url + "/")[0])[0]
    subprocess.run(["docker", "restart", "-t", "60", redis_node.name], check=True, capture_output=True, timeout=180)
    redis_node.wait_booted()
    wait_healthy(app_node, base_url, attempts=60)
    n = parse(*fetch(app_node, base_url + "/")[0])[0]
    assert n == last + 1, f"after rebooting {redis_node.name} the counter went from {last} to {n}"


def _daemon_state(node):
    return (node.check("sha256sum /etc/docker/daemon.json").split()[0],
            node.check("systemctl show -p ExecMainStartTimestampMonotonic --value docker").strip())


@pytest.mark.scenarios("default")
@pytest.mark.parametrize("options, key", [
    ({"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": 3}}, "log-opts"),
    ({"log-driver": "json-file", "no-such-option": True}, "no-such-option"),
], ids=["int-for-string", "unknown-key"])
def test_bad_daemon_json_never_takes_the_lab_down(options, key, nodes, app_node, base_url):
    before = {n.name: _daemon_state(n) for n in nodes}
    rc, out = run_playbook("playbooks/overlay.yml", "-e", json.dumps({"docker_daemon_options": options}))
    assert rc != 0, "a daemon.json dockerd refuses was accepted"
    assert key in out, f"the failure does not name {key}:\n{out[-3000:]}"
    assert re.search(r"cannot unmarshal|directives don't match|unknown|invalid", out), out[-3000:]
    first = nodes[0]
    for n in nodes:
        sha, started = _daemon_state(n)
        assert sha == before[n.name][0], f"{n.name}: daemon.json is not the previous one"
        assert n.run("docker info").rc == 0, f"{n.name}: dockerd does not run:\n{n.journal('docker')}"
        if n is not first:
            assert started == before[n.name][1], f"{n.name} was restarted although the first node failed"
    wait_healthy(app_node, base_url)
