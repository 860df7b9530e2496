"""Shared fixtures: the lab's nodes as testinfra hosts, read from the one lab definition."""

import os
import pathlib
import subprocess
import time

import pytest
import testinfra
import yaml

ROOT = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", pathlib.Path(__file__).parents[3]))
CACHE = pathlib.Path(os.environ.get("LAB_CACHE_DIR", ROOT / ".cache"))


def lab_nodes():
    """{name: lab_address} from inventory/lab/hosts.yml."""
    inv = yaml.safe_load((ROOT / "inventory/lab/hosts.yml").read_text())
    hosts = inv["all"]["children"]["nodes"]["hosts"]
    return {name: v["lab_address"] for name, v in hosts.items()}


NODES = lab_nodes()


class Node:
    def __init__(self, name, address):
        self.name = name
        self.address = address
        self.host = testinfra.get_host(f"docker://{name}")

    def run(self, cmd, *args):
        return self.host.run(cmd, *args)

    def check(self, cmd, *args):
        """Run and fail the test with the command's output when it fails."""
        res = self.host.run(cmd, *args)
        assert res.rc == 0, f"{self.name}: `{res.command}` rc={res.rc}\n{res.stdout}\n{res.stderr}"
        return res.stdout

    def fact(self, name):
        return self.host.file(f"/etc/ansible/facts.d/{name}.fact").content_string

    def backend(self):
        import json

        return json.loads(self.fact("overlay_backend"))["backend"]

    def release(self):
        return self.check(". /etc/os-release && echo $VERSION_CODENAME").strip()

    def ensure_image(self, image, archive):
        """Load a `docker save` archive made by scripts/images.sh unless the image is there."""
        if self.run("docker image inspect %s", image).rc == 0:
            return
        with open(archive, "rb") as f:
            subprocess.run(["docker", "exec", "-i", self.name, "docker", "load", "-q"], stdin=f, check=True,
                           capture_output=True)

    def tools_image(self):
        rel = self.release()
        image = f"lab-tools:{rel}"
        self.ensure_image(image, CACHE / "images" / f"lab-tools-{rel}.tar")
        return image


def pytest_configure(config):
    config.addinivalue_line("markers", "backend(name): runs only where the lab uses this overlay backend")
    config.addinivalue_line("markers", "disruptive: reboots a node; runs after every other test")


def pytest_collection_modifyitems(config, items):
    """Deselect (neither run nor counted) tests written for the other overlay backend."""
    backend = Node(*next(iter(NODES.items()))).backend()
    keep, drop = [], []
    for item in items:
        mark = item.get_closest_marker("backend")
        (drop if mark and mark.args[0] != backend else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = sorted(keep, key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def nodes():
    return [Node(n, a) for n, a in NODES.items()]


@pytest.fixture(scope="session")
def node1(nodes):
    return nodes[0]


@pytest.fixture(scope="session")
def node2(nodes):
    return nodes[1]


def retry(fn, attempts=15, delay=2):
    """Call fn until it returns truthy (bounded); return its last value."""
    for _ in range(attempts):
        value = fn()
        if value:
            return value
        time.sleep(delay)
    return fn()


def run_playbook(playbook, *args):
    """ansible-playbook against the lab inventory, as a user would run it; returns (rc, output)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", LAB_CACHE_DIR=str(CACHE))
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    for var in ("ANSIBLE_ROLES_PATH", "ANSIBLE_LIBRARY", "ANSIBLE_MODULE_UTILS"):
        env.pop(var, None)  # molecule's; the repo's ansible.cfg has the same paths
    res = subprocess.run(
        ["ansible-playbook", "-i", str(ROOT / "inventory/lab"), str(ROOT / playbook), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    return res.returncode, res.stdout + res.stderr


def journal(host, unit):
    return host.run("journalctl -u %s -n 30 --no-pager", unit).stdout
