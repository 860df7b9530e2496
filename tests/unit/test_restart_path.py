"""dockerd restarts in one place: roles/docker/tasks/restart.yml (playbooks/docker-restart.yml,
one node at a time), through the recovery engine's restart; the recovery's own restarts are
that engine's too. A task anywhere else that restarts docker fails here."""

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PATH = ROOT / "roles" / "docker" / "tasks" / "restart.yml"
SERVICE_MODULES = {"systemd_service", "systemd", "service", "sysvinit"}
NESTED = ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers")


def _tasks(node):
    """Every task dict in a task file or playbook, blocks and plays opened."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        if not any(k in node for k in NESTED):
            yield node
        for key in NESTED:
            yield from _tasks(node.get(key) or [])


def _module(task):
    for key, value in task.items():
        short = key.rsplit(".", 1)[-1]
        if short in SERVICE_MODULES | {"command", "shell", "overlay_recover"}:
            return short, value
    return None, None


def restarts_docker(task):
    """True when the task restarts dockerd by any means the repository uses."""
    module, args = _module(task)
    if module in SERVICE_MODULES and isinstance(args, dict):
        return str(args.get("name", "")).removesuffix(".service") == "docker" and args.get("state") in (
            "restarted", "reloaded")
    if module in ("command", "shell"):
        text = args if isinstance(args, str) else " ".join(map(str, (args or {}).get("argv", []))) or str(
            (args or {}).get("cmd", ""))
        words = text.split()
        return "docker" in " ".join(words) and ("restart" in words and ("systemctl" in words or "service" in words))
    if module == "overlay_recover":
        return isinstance(args, dict) and args.get("mode") == "restart"
    return False


def _files():
    for base in ("roles", "playbooks"):
        yield from sorted((ROOT / base).rglob("*.yml"))
    yield ROOT / "site.yml"


def test_only_the_restart_path_restarts_dockerd():
    found = []
    for path in _files():
        doc = yaml.safe_load(path.read_text())
        for task in _tasks(doc):
            if restarts_docker(task):
                found.append((path.relative_to(ROOT).as_posix(), task.get("name")))
    assert [f for f in found if f[0] != PATH.relative_to(ROOT).as_posix()] == [], found
    assert len(found) == 1, f"the restart path restarts dockerd in one task: {found}"


@pytest.mark.parametrize("task", [
    {"name": "x", "ansible.builtin.systemd_service": {"name": "docker", "state": "restarted"}},
    {"name": "x", "ansible.builtin.service": {"name": "docker.service", "state": "restarted"}},
    {"name": "x", "ansible.builtin.command": "systemctl restart docker"},
    {"name": "x", "ansible.builtin.command": {"argv": ["systemctl", "restart", "docker.service"]}},
    {"name": "x", "ansible.builtin.shell": {"cmd": "service docker restart"}},
    {"name": "x", "lab.multihost.overlay_recover": {"mode": "restart"}},
], ids=["systemd", "service", "command", "argv", "shell", "engine"])
def test_each_way_of_restarting_is_seen(task):
    assert restarts_docker(task)
    assert list(_tasks([{"name": "play", "tasks": [{"block": [task]}]}])) == [task]


@pytest.mark.parametrize("task", [
    {"name": "x", "ansible.builtin.systemd_service": {"name": "docker", "state": "started"}},
    {"name": "x", "ansible.builtin.systemd_service": {"name": "etcd", "state": "restarted"}},
    {"name": "x", "lab.multihost.overlay_recover": {"mode": "repair"}},
    {"name": "x", "ansible.builtin.command": "journalctl -u docker --no-pager"},
], ids=["start", "etcd", "repair", "journal"])
def test_what_is_not_a_restart(task):
    assert not restarts_docker(task)
