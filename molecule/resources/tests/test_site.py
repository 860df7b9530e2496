"""The whole of site.yml in check mode on the converged lab: it runs through and would change nothing."""

from labkit import check_then_apply


def test_check_mode_on_the_converged_lab_changes_nothing():
    predicted, applied = check_then_apply("site.yml")
    assert predicted == set() and applied == set(), (predicted, applied)
