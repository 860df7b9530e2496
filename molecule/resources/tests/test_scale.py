"""The five-node lab keeps quorum with two nodes down, refuses to run without it, and heals.

Runs on the five-node lab only (`make lab NODES=5`, molecule's scenario `scale`): etcd has a
member on each of the five nodes, so two may fail and three may not. Every fault is a power
loss (`docker kill` of the node's container, labkit's Node.power_off) of nodes that hold neither
the app nor redis. Repairs are asserted here; that the next site.yml run changes nothing is the
scenario's final proof (test_site.py).
"""

import re
import time
import urllib.request
import uuid

import pytest
from labkit import (
    ETCDCTL,
    assert_left_out,
    count,
    etcd_healthy,
    etcd_members,
    fresh_container_reaches,
    hits,
    parse,
    recap,
    retry,
    run_playbook,
    wait_healthy,
)

pytestmark = [pytest.mark.scenarios("scale"), pytest.mark.disruptive]

MEMBERS = 5
QUORUM = MEMBERS // 2 + 1  # 3 of 5: two members may fail, a third may not
# Unattended recovery must be done within this many seconds of the nodes' boot (test_ha's bound).
RECOVERY_SECONDS = 90


def _count_from_host(base_url):
    """One GET / from this machine, the host the nodes run on; the count the app answered."""
    with urllib.request.urlopen(base_url + "/", timeout=10) as r:
        return parse(r.status, r.read().decode())[0]


def _demo_works(node, redis_node, attempts):
    """A fresh container on demo on node reaches redis by name (from redis's own node: the app)."""
    target = "app" if node.name == redis_node.name else "redis"
    return retry(lambda: fresh_container_reaches(node, target), attempts=attempts)


def _power_on(nodes):
    """docker start of each node, every one tried even when one fails."""
    failed = []
    for node in nodes:
        try:
            node.power_on()
        except AssertionError as exc:
            failed.append(f"{node.name}: {exc}")
    assert not failed, f"nodes left powered off: {failed}"


def _names(nodes):
    return [n.name for n in nodes]


def test_two_of_five_down_keep_quorum_a_third_stops_site_yml_and_all_heal_unattended(
        nodes, inventory, app_node, redis_node, base_url):
    """Two nodes of five powered off: the other three keep etcd, demo and the app, and site.yml
    converges them changing nothing and reports the two unreachable. A third powered off: two of
    five members answer, and site.yml stops in its preflight with the quorum message, changing
    nothing. The three powered on: etcd, demo and the app heal unattended, the counter kept."""
    names = _names(nodes)
    assert inventory.group("etcd") == names and len(names) == MEMBERS, (
        f"the scale scenario is five nodes with an etcd member each; etcd: {inventory.group('etcd')}")
    spare = [n for n in nodes if n.name not in (app_node.name, redis_node.name)]
    assert len(spare) == MEMBERS - 2, f"the app ({app_node.name}) and redis ({redis_node.name}) share a node"
    # A new lab of five: docker-node3 and docker-node4, then docker-node2.
    two, third = spare[-2:], spare[0]
    for node in nodes:
        node.tools_image()  # loaded before the power loss, as any image the user has

    counts = [count(app_node, base_url)]  # the count before the faults, then one per request

    def answers(client):
        """One GET / from client (a node; None: this machine): it counts on from the last answer."""
        n = _count_from_host(base_url) if client is None else count(client, base_url)
        who = client.name if client else "the host"
        assert n == counts[-1] + 1, f"GET / from {who} answered {n} after {counts[-1]}"
        counts.append(n)

    down = []
    try:
        for node in two:
            down.append(node)
            node.power_off()
        up = [n for n in nodes if n not in down]

        # etcd: the three members left answer reads that need quorum and commit a write; the two do not answer.
        assert retry(lambda: etcd_healthy(up[0], up), attempts=15), (
            f"etcd on {_names(up)} is not healthy with {_names(two)} down:\n{up[0].journal('etcd')}")
        for node in two:
            assert not etcd_healthy(up[0], [node]), f"{node.name}'s member still answers: the power loss did not happen"
        key = f"/lab/scale-{uuid.uuid4().hex[:6]}"
        up[0].check(ETCDCTL + f"put {key} three-of-five")
        assert up[-1].check(ETCDCTL + f"get {key} --print-value-only").strip() == "three-of-five"
        up[0].check(ETCDCTL + f"del {key}")

        # demo between the three: a fresh container on each reaches redis by name (on redis's node, the app).
        for node in up:
            assert _demo_works(node, redis_node, attempts=10), (
                f"demo does not carry traffic from {node.name} with {_names(two)} down")

        # The app answers this machine and each node left.
        answers(None)
        for node in up:
            answers(node)

        # site.yml: the three converged with nothing changed, the two named down, in bounded time.
        started = time.monotonic()
        rc, out = run_playbook("site.yml", timeout=900)
        took = time.monotonic() - started
        assert_left_out(rc, out, nodes, two)
        assert took < 600, f"site.yml with {_names(two)} down took {took:.0f} s"

        # A third node down: two of five members answer; site.yml stops in its preflight, one message.
        down.append(third)
        third.power_off()
        started = time.monotonic()
        rc, out = run_playbook("site.yml")
        took = time.monotonic() - started
        assert rc != 0, out[-3000:]
        fatal = re.findall(r"^fatal: .*etcd quorum lost.*$", out, re.M)
        assert len(fatal) == 1, out[-3000:]
        said = re.search(r"etcd quorum lost: (\d+) of (\d+) members answer \(([^)]*) down\), and a cluster of \d+ "
                         r"needs (\d+)\. Nothing was changed\..*docker start ([^)]*)\)", fatal[0])
        assert said, fatal[0]
        assert (int(said[1]), int(said[2]), int(said[4])) == (MEMBERS - len(down), MEMBERS, QUORUM), fatal[0]
        gone = sorted(_names(down))
        assert sorted(said[3].split(", ")) == gone and sorted(said[5].split()) == gone, fatal[0]
        assert "WARNING: etcd has" not in out, "five members are an odd number: no warning about an even one"
        assert took < 120, f"site.yml took {took:.0f} s to stop"
        changed = {h: s["changed"] for h, s in recap(out).items()}
        assert changed == {n.name: 0 for n in nodes}, f"changed per host: {changed}\n{out[-3000:]}"
        for node in down:
            assert f"{node.name} is down: its container is not running" in out, out[-3000:]
    finally:
        _power_on(down)

    for node in down:
        node.wait_booted()
    # Unattended: etcd five of five healthy again, the same five members.
    assert retry(lambda: etcd_healthy(nodes[0], nodes), attempts=RECOVERY_SECONDS // 2, delay=2), (
        f"etcd is not healthy on all five {RECOVERY_SECONDS} s after {_names(down)} booted:\n"
        + "".join(f"--- {n.name}\n{n.journal('etcd', 15)}" for n in down))
    assert etcd_members(nodes[0]) == sorted(names)
    # demo from every node: the three that lost power and the two that kept it.
    for node in nodes:
        assert _demo_works(node, redis_node, attempts=15), (
            f"demo does not carry traffic from {node.name} after {_names(down)} came back:\n"
            + node.run("docker run --rm --pull never --network demo %s ping -c 3 -W 2 redis", node.tools_image()).stderr
            + node.run("journalctl -u docker -u overlay-recover -b --no-pager -o cat -n 40").stdout)
    # The app answers this machine and every node, and the counter kept every request.
    wait_healthy(app_node, base_url, attempts=45)
    answers(None)
    for node in nodes:
        answers(node)
    made = len(counts) - 1
    assert hits(redis_node) == counts[0] + made, (
        f"redis holds {hits(redis_node)}: {counts[0]} before the faults and {made} requests since")
