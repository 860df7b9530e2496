"""The whole of site.yml in check mode on the converged lab: it runs through and would change nothing."""

import re

from conftest import run_playbook


def test_check_mode_on_the_converged_lab_changes_nothing():
    rc, out = run_playbook("site.yml", "--check")
    assert rc == 0, out[-4000:]
    recap = [line for line in out.splitlines() if re.match(r"^\S+\s+: ok=", line)]
    assert recap and all(" changed=0 " in line for line in recap), "\n".join(recap)
