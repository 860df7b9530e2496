"""The scenario tests' run log (labkit) and its summary (scripts/ansible_runs.py): one line per
Ansible run, summed per test, slowest first."""

import importlib.util

import labkit
from labkit import ROOT

spec = importlib.util.spec_from_file_location("ansible_runs", ROOT / "scripts/ansible_runs.py")
ansible_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ansible_runs)


def test_each_run_is_a_line_the_summary_sums_per_test(tmp_path, monkeypatch):
    monkeypatch.setattr(labkit, "RUN_LOG", tmp_path / "logs" / "ansible-runs.tsv")
    labkit.start_run_log()
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::test_slow (call)")
    labkit._log_run("ansible-playbook", ["-i", "/x/inventory/lab", "/x/site.yml", "-e", "a=1"], 0, 10.04)
    labkit._log_run("ansible-playbook", ["-i", "/x/inventory/lab", "/x/playbooks/app.yml", "--check"], 2, 5.0)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::test_quick (call)")
    labkit._log_run("ansible", ["docker-node1", "-m", "ping"], 0, 1.0)
    lines = labkit.RUN_LOG.read_text().splitlines()
    assert lines[0] == "t.py::test_slow\t10.0\t0\tansible-playbook -i lab site.yml -e a=1"
    assert lines[1].endswith("\t2\tansible-playbook -i lab app.yml --check")
    assert ansible_runs.summary(lines) == ([(15.0, 2, "t.py::test_slow"), (1.0, 1, "t.py::test_quick")], 16.0)
    labkit.start_run_log()
    assert labkit.RUN_LOG.read_text() == "", "each test session starts an empty log"
