"""An impairment of the underlay, as a user sets it (playbooks/impair.yml): it shows in the
overlay, the app rides it out, site.yml leaves it in place and names it, and clearing it
gives the link back. That it comes back after a power loss is part of the power-loss test
(test_recovery.py)."""

import re
import time
import urllib.request
import uuid

import pytest
from labkit import impair, impairments, parse, run_playbook

pytestmark = pytest.mark.scenarios("default")

DELAY_MS = 50


def demo_rtt(node, container, target, count=20):
    """Median RTT in ms of pings from container (on demo) to target across the overlay."""
    out = node.check("docker exec %s ping -c %s -i 0.2 -W 2 %s", container, str(count), target)
    times = sorted(float(t) for t in re.findall(r"time=([0-9.]+) ms", out))
    assert len(times) >= count // 2, out
    return times[len(times) // 2]


@pytest.fixture
def pinger(node1):
    """A tools container on demo on node1, removed afterwards."""
    name = f"imp{uuid.uuid4().hex[:6]}"
    node1.check("docker run -d --rm --pull never --name %s --network demo %s sleep 600", name, node1.tools_image())
    yield name
    node1.run("docker rm -f %s", name)


def test_underlay_delay_shows_across_demo_app_rides_out_loss_site_yml_leaves_it(node1, node2, base_url, pinger):
    """50 ms on docker-node2's lab link (its VXLAN traffic to docker-node1): pings across demo
    from node1 to redis on node2 are at least 48 ms slower; with 5 % loss added the app
    answers 20 of 20 requests within 5 s each; a site.yml run leaves it and fails nothing;
    cleared, the ping is back within 5 ms."""
    target = "redis"
    before = demo_rtt(node1, pinger, target)
    try:
        out = impair(node2.name, f"impair_delay={DELAY_MS}ms")
        assert "backend queue" in out or "backend netem" in out, out[-3000:]
        delayed = demo_rtt(node1, pinger, target)
        assert delayed >= before + DELAY_MS - 2, f"across demo: {before} ms before, {delayed} ms with {DELAY_MS} ms"

        impair(node2.name, f"impair_delay={DELAY_MS}ms", "impair_loss=5%")
        [imp] = impairments(node2.name)
        assert imp["in_force"] and imp["loss"] == "5%" and imp["delay"] == f"{DELAY_MS}ms", imp
        slow = []
        for _request in range(20):
            started = time.monotonic()
            with urllib.request.urlopen(base_url + "/", timeout=5) as r:
                parse(r.status, r.read().decode())
            slow.append(time.monotonic() - started)
        assert max(slow) < 5, slow

        rc, out = run_playbook("site.yml")
        assert rc == 0 and not re.search(r"failed=[1-9]", out), out[-5000:]
        assert re.search(rf"impaired\s+{node2.name}\s+.*delay {DELAY_MS}ms", out), out[-3000:]
        [still] = impairments(node2.name)
        assert still["in_force"] and still["delay"] == f"{DELAY_MS}ms", still
    finally:
        impair(node2.name, "impair_clear=true")
    assert impairments(node2.name) == []
    after = demo_rtt(node1, pinger, target)
    assert abs(after - before) <= 5, f"cleared: {after} ms, {before} ms before"
