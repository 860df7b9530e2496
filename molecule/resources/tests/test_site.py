"""The scenario's final proof, after every other test: site.yml puts back whatever the
disruptive tests left, then check mode on the converged lab predicts no change and a real
run makes none. With molecule's idempotence step, the one changed=0 proof of the scenario."""

import pytest
from labkit import assert_converged, check_then_apply, run_playbook


@pytest.mark.last
def test_after_every_test_site_yml_converges_and_then_changes_nothing():
    rc, out = run_playbook("site.yml")
    assert_converged(rc, out, what="site.yml after the scenario's tests")
    predicted, applied = check_then_apply("site.yml")
    assert not predicted and not applied, (predicted, applied)
