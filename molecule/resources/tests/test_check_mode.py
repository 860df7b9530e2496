"""`--check --diff` previews exactly what a real run then changes.

Each case changes one input, runs the stage's playbook in check mode and then for real
(labkit.check_then_apply), and asserts that the tasks check mode marked changed are the
tasks that changed for real; then it puts the input back. The app.yml inputs are applied
one on top of the other, the second change being their put-back.
"""

import json

import pytest
from labkit import (
    assert_converged,
    assert_predicted,
    check_then_apply,
    fetch,
    hits,
    parse,
    run_playbook,
    wait_healthy,
)

# On the tutorial's lab with cluster-store: the mechanisms these cases cover do not
# depend on the backend (test_site.py checks the converged lab in every scenario).
pytestmark = pytest.mark.scenarios("default")

SECRET = "/opt/lab/secrets/redis-password"


def _restore(playbook, *args):
    rc, out = run_playbook(playbook, *args)
    assert_converged(rc, out, what=f"putting back {playbook}")


def test_app_inputs_one_on_top_of_the_other(app_node, redis_node, base_url):
    """Two app.yml changes in turn, each previewed then applied on top of the last: an input of the
    redis Dockerfile with an option of the app container; then both back to their defaults while
    the password file is deleted (the README's rotation), which is the put-back. Through all of it
    no run prints a password, the new password reaches the app, and the counter is kept."""
    old = redis_node.check("cat %s", SECRET)
    before = hits(redis_node)
    steps = [("redis_appendfsync=always and app_workers=2",
              ["-e", "redis_appendfsync=always", "-e", "app_workers=2"], None),
             ("both inputs back, the password file deleted (rotation)", [],
              lambda: redis_node.check("rm -f %s", SECRET))]
    outputs, put_back = [], False
    try:
        for what, args, by_hand in steps:
            if by_hand:
                by_hand()
            predicted, applied = check_then_apply("playbooks/app.yml", *args, outputs=outputs)
            assert_predicted(predicted, applied, what)
        put_back = True
    finally:
        if not put_back:
            _restore("playbooks/app.yml")
    new = redis_node.check("cat %s", SECRET)
    assert new != old and app_node.check("cat %s", SECRET) == new, "the rotation did not reach the app"
    assert not [o for o in outputs if old in o or new in o], "an app.yml run printed a redis password"
    wait_healthy(app_node, base_url)
    n = parse(*fetch(app_node, base_url + "/")[0])[0]
    assert n == before + 1, f"the counter went from {before} to {n} across the changes and the rotation"


def test_daemon_json_key():
    options = {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"},
               "max-concurrent-downloads": 4}
    predicted, applied = check_then_apply("playbooks/overlay.yml", "-e", json.dumps({"docker_daemon_options": options}))
    assert_predicted(predicted, applied, "a new daemon.json key")
    _restore("playbooks/overlay.yml")


def test_new_network_beside_demo_and_my_bridge(node1):
    networks = {"networks_list": [
        {"name": "demo", "driver": "overlay", "subnet": "10.0.0.0/24", "ip_range": "10.0.0.0/25"},
        {"name": "my-bridge", "driver": "bridge"},
        {"name": "lab-check", "driver": "overlay", "subnet": "10.8.0.0/24"},
    ]}
    try:
        predicted, applied = check_then_apply("playbooks/networks.yml", "-e", json.dumps(networks))
        assert_predicted(predicted, applied, "a new overlay network")
    finally:
        node1.run("docker network rm lab-check")


def test_netns_lab_topology_change():
    extra = {"name": "check", "namespaces": ["ck-a", "ck-b"], "bridges": [],
             "veths": [{"name": "ck-a0", "namespace": "ck-a", "address": "172.31.9.1/30",
                        "peer": "ck-b0", "peer_namespace": "ck-b", "peer_address": "172.31.9.2/30"}],
             "checks": [{"namespace": "ck-a", "address": "172.31.9.2"}]}
    try:
        topologies = json.dumps({"netns_lab_topologies": [extra]})
        predicted, applied = check_then_apply("playbooks/netns-lab.yml", "-e", topologies)
        assert_predicted(predicted, applied, "a new namespace topology")
    finally:
        _restore("playbooks/netns-lab.yml", "-e", json.dumps({
            "netns_lab_state": "absent", "netns_lab_pair_enabled": False, "netns_lab_bridged_enabled": False,
            "netns_lab_topologies": [extra]}))
