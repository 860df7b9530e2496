"""The scenario's final proof, after every other test: site.yml puts back whatever the
disruptive tests left, the app answers from every node, then check mode on the converged lab
predicts no change and writes nothing on any node, and a real run makes none. With molecule's idempotence step, the one
changed=0 proof of the scenario."""

import pytest
from labkit import assert_converged, assert_nothing_written, changes_of, run_playbook, wait_healthy, written_trees


@pytest.mark.last
def test_after_every_test_site_yml_converges_and_then_changes_nothing(nodes, base_url):
    rc, out = run_playbook("site.yml")
    stats = assert_converged(rc, out, what="site.yml after the scenario's tests")
    for node in nodes:
        wait_healthy(node, base_url)
    before = {node.name: written_trees(node) for node in nodes}
    predicted = changes_of("site.yml", "--check", "--diff")
    assert not predicted, f"check mode on the converged lab predicts changes: {predicted}"
    for node in nodes:
        assert_nothing_written(before[node.name], written_trees(node), f"site.yml --check on {node.name}")
    # A first run that changed nothing is the real run that makes none; one that put
    # something back needs one more.
    if any(s["changed"] for s in stats.values()):
        applied = changes_of("site.yml")
        assert not applied, f"site.yml changed something on the converged lab: {applied}"
