"""Three swarm managers (`make lab NODES=3 BACKEND=swarm`, molecule's scenario `scale-swarm`),
grown from the two-node swarm lab: `make test-scale` makes that lab first (`make lab NODES=2
BACKEND=swarm`), and the scenario's create and converge add docker-node3 as `make lab NODES=3
BACKEND=swarm` on it would. Then one manager powered off leaves two of three, a raft quorum,
so the swarm keeps its leader and takes changes, and the app keeps serving. The manager comes
back unattended.

The fault is a power loss (`docker kill` of the node's container) of the manager that holds
neither the app nor redis. That the next site.yml run changes nothing is the scenario's final
proof (test_site.py).
"""

import datetime
import json
import uuid

import pytest
from labkit import REDIS_CONTAINER, count, docker_host, fresh_container_reaches, hits, retry

pytestmark = pytest.mark.scenarios("scale-swarm")

MANAGERS = 3
# Unattended recovery must be done within this many seconds of the node's boot (test_ha's bound).
RECOVERY_SECONDS = 90


def _swarm_nodes(node):
    """{hostname: (role, availability state, manager reachability)} as a manager sees the swarm."""
    out = node.run("docker node ls --format '{{json .}}'")
    if out.rc != 0:
        return {}
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {r["Hostname"]: (r["Status"], r["ManagerStatus"] or "worker") for r in rows}


def _created(text):
    """The time of Docker's `{{json .Created}}` (RFC 3339 with nanoseconds, quoted) as a datetime."""
    stamp = json.loads(text).replace("Z", "+00:00")
    head, _dot, tail = stamp.partition(".")
    offset = next((tail[i:] for i, c in enumerate(tail) if c in "+-"), "")
    return datetime.datetime.fromisoformat(head + offset)


def test_grown_from_two_nodes_the_third_joined_as_a_manager_and_nothing_was_made_again(nodes, redis_node):
    """docker-node3 joined, docker-node2 was promoted: three managers, all Ready. demo and redis are
    the two-node lab's: both made before docker-node3's container existed, demo's ID the same on
    every node, and redis (its container and so its volume's counter) not made again."""
    third = nodes[-1]
    seen = _swarm_nodes(nodes[0])
    assert {h: s[0] for h, s in seen.items()} == {n.name: "Ready" for n in nodes}, seen
    assert sorted(s[1] for s in seen.values()) == ["Leader", "Reachable", "Reachable"], seen
    born = _created(docker_host("inspect", "-f", "{{json .Created}}", third.name))
    demo = _created(nodes[0].check("docker network inspect -f '{{json .Created}}' demo"))
    assert demo < born, f"demo was made at {demo}, after {third.name} ({born}): the lab was not grown"
    redis = _created(redis_node.check("docker inspect -f '{{json .Created}}' %s", REDIS_CONTAINER))
    assert redis < born, f"redis was made again at {redis}, after {third.name} ({born})"
    ids = {n.name: n.check("docker network inspect -f '{{.Id}}' demo").strip() for n in nodes}
    assert len(set(ids.values())) == 1, ids


@pytest.mark.disruptive
def test_one_manager_of_three_down_keeps_the_swarm_and_the_app(nodes, inventory, app_node, redis_node, base_url):
    managers = inventory.group("swarm_managers")
    assert len(nodes) == MANAGERS and managers == [n.name for n in nodes], (
        f"the scale-swarm scenario is three nodes, each a manager; managers: {managers}")
    seen = _swarm_nodes(nodes[0])
    assert sorted(s[1] for s in seen.values()) == ["Leader", "Reachable", "Reachable"], seen
    down = next(n for n in nodes if n.name not in (app_node.name, redis_node.name))
    up = [n for n in nodes if n is not down]
    for node in nodes:
        node.tools_image()  # loaded before the power loss, as any image the user has
    counts = [count(app_node, base_url)]

    down.power_off()
    try:
        # Two of three managers: the survivors see it unreachable and still have a leader.
        assert retry(lambda: _swarm_nodes(up[0]).get(down.name, ("", ""))[1] == "Unreachable", attempts=30), (
            f"{down.name} is not reported unreachable: {_swarm_nodes(up[0])}")
        assert "Leader" in {s[1] for s in _swarm_nodes(up[0]).values()}, _swarm_nodes(up[0])
        # The raft store takes a write: an overlay made and removed on a surviving manager.
        name = f"mgr{uuid.uuid4().hex[:6]}"
        up[-1].check("docker network create -d overlay %s", name)
        up[-1].check("docker network rm %s", name)
        # demo and the app: a fresh container on the app's node reaches redis; the app counts on.
        assert retry(lambda: fresh_container_reaches(app_node, "redis"), attempts=10), (
            f"demo does not carry traffic from {app_node.name} with {down.name} down")
        for node in up:
            counts.append(count(node, base_url))
            assert counts[-1] == counts[-2] + 1, f"GET / from {node.name} answered {counts[-1]} after {counts[-2]}"
    finally:
        down.power_on()

    down.wait_booted()
    # Unattended: it is Ready and Reachable again, and demo carries its traffic.
    assert retry(lambda: _swarm_nodes(up[0]).get(down.name) == ("Ready", "Reachable"),
                 attempts=RECOVERY_SECONDS // 2, delay=2), (
        f"{down.name} did not come back as a manager: {_swarm_nodes(up[0])}\n{down.journal('docker', 20)}")
    assert retry(lambda: fresh_container_reaches(down, "redis"), attempts=15), (
        f"demo does not carry traffic from {down.name} after it came back")
    counts.append(count(down, base_url))
    assert counts[-1] == counts[-2] + 1
    made = len(counts) - 1
    assert hits(redis_node) == counts[0] + made, f"redis holds {hits(redis_node)}: {counts[0]} and {made} since"
