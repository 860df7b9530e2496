"""How the check-then-apply tests compare a check run with a real one (labkit): by each task's
definition (file:line), so a stand-in that borrows a real task's name does not pass for it."""

import pytest
from labkit import ROOT, assert_predicted, by_name, changed_tasks


def _run(*tasks):
    """A JSON-callback document: (path, name, {host: changed})."""
    return {"plays": [{"tasks": [{"task": {"name": name, "path": path},
                                  "hosts": {h: {"changed": c} for h, c in hosts.items()}}
                                 for path, name, hosts in tasks]}]}


REAL = f"{ROOT}/roles/_lab_container/tasks/container.yml:3"
VIA_COLLECTION = "/x/.cache/collections/ansible_collections/lab/multihost/roles/_lab_container/tasks/container.yml:3"
STAND_IN = f"{ROOT}/roles/_lab_container/tasks/main.yml:80"
NAME = "lab.multihost._lab_container : Run the container"


def test_a_task_is_its_definition_wherever_it_was_loaded_from():
    run = changed_tasks(_run((REAL, NAME, {"n1": True, "n2": False}), (VIA_COLLECTION, NAME, {"n2": True})))
    assert run == {("n1", "roles/_lab_container/tasks/container.yml:3"): NAME,
                   ("n2", "roles/_lab_container/tasks/container.yml:3"): NAME}
    assert by_name(run) == {("n1", NAME), ("n2", NAME)}


def test_a_stand_in_with_the_real_name_does_not_pass_for_it():
    predicted = changed_tasks(_run((STAND_IN, NAME, {"n1": True})))
    applied = changed_tasks(_run((REAL, NAME, {"n1": True})))
    assert by_name(predicted) == by_name(applied)
    with pytest.raises(AssertionError, match="main.yml:80"):
        assert_predicted(predicted, applied, "a stand-in")


def test_the_same_tasks_changed_is_a_prediction_and_nothing_applied_tests_nothing():
    run = changed_tasks(_run((REAL, NAME, {"n1": True})))
    assert_predicted(run, dict(run), "the same")
    with pytest.raises(AssertionError, match="tests nothing"):
        assert_predicted(run, {}, "nothing")
