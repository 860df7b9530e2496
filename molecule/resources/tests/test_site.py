"""The scenario's final proof, after every other test: site.yml puts back whatever the
disruptive tests left, the app answers from every node, then check mode on the converged lab
predicts no change and writes nothing on any node, and a real run makes none. With molecule's idempotence step, the one
changed=0 proof of the scenario. On the converged lab, no host-level stage loads its role: the lab's one read
found each settled."""

import pytest
from labkit import (
    assert_converged,
    assert_nothing_written,
    changed_tasks,
    changes_of,
    run_playbook,
    run_playbook_json,
    wait_healthy,
    written_trees,
)

# The host-level stages the lab's one read decides: settled, their play does not load the role.
SETTLED_STAGES = ("firewall", "docker", "pki", "etcd", "overlay_backend", "networks", "netns_lab", "redis", "app")


@pytest.mark.last
def test_after_every_test_site_yml_converges_and_then_changes_nothing(nodes, base_url):
    rc, out = run_playbook("site.yml")
    stats = assert_converged(rc, out, what="site.yml after the scenario's tests")
    for node in nodes:
        wait_healthy(node, base_url)
    before = {node.name: written_trees(node) for node in nodes}
    rc, data, err = run_playbook_json("site.yml", "--check", "--diff")
    assert rc == 0, f"site.yml --check failed on the converged lab (rc={rc}): {err[-3000:]}"
    predicted = changed_tasks(data)
    assert not predicted, f"check mode on the converged lab predicts changes: {predicted}"
    loaded = sorted({(host, stage) for play in data["plays"] for task in play["tasks"] for host in task["hosts"]
                     for stage in SETTLED_STAGES if f"roles/{stage}/tasks/main.yml:" in task["task"]["path"]})
    assert not loaded, f"a settled stage loaded its role on the converged lab (the one read did not settle): {loaded}"
    for node in nodes:
        assert_nothing_written(before[node.name], written_trees(node), f"site.yml --check on {node.name}")
    # A first run that changed nothing is the real run that makes none; one that put
    # something back needs one more.
    if any(s["changed"] for s in stats.values()):
        applied = changes_of("site.yml")
        assert not applied, f"site.yml changed something on the converged lab: {applied}"
