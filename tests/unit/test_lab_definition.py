"""A lab is defined once, in its inventory: molecule's scenarios, `make lab` and the Vagrant VMs follow it."""

import os
import pathlib
import re
import subprocess

import labkit
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOCAL_LABS = ["lab", "ha"]
# The labs scripts/lab_inventory.py generates into .cache/inventory/ (its BACKENDS).
GENERATED_LABS = ["lab", "swarm"]


def _inventory(name):
    inv = yaml.safe_load((ROOT / "inventory" / name / "hosts.yml").read_text())
    return {h: v["lab_address"] for h, v in inv["all"]["children"]["nodes"]["hosts"].items()}


def _scenario(name):
    """A scenario's molecule.yml merged over the base config (the way molecule merges dicts)."""
    def merge(a, b):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return out
    base = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
    return merge(base, yaml.safe_load((ROOT / "molecule" / name / "molecule.yml").read_text()))


def _scenarios():
    return sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def test_lab_is_the_original_two_nodes():
    assert _inventory("lab") == {"docker-node1": "192.168.205.10", "docker-node2": "192.168.205.11"}


def test_ha_lab_adds_a_third_node():
    assert _inventory("ha") == {**_inventory("lab"), "docker-node3": "192.168.205.12"}


@pytest.mark.parametrize("scenario", _scenarios())
def test_scenario_nodes_come_from_an_inventory(scenario):
    """A hand-written inventory (inventory/<lab>) or one scripts/lab_inventory.py generates
    (.cache/inventory/<lab>, written by the scenario's make target); the tests read the same one."""
    conf = _scenario(scenario)
    assert not conf.get("platforms"), "nodes are drawn from the inventory, not listed in molecule.yml"
    links = conf["provisioner"]["inventory"]["links"]
    found = re.fullmatch(r"\.\./\.\./((?:\.cache/)?inventory/(\w+))/hosts\.yml", links["hosts"])
    where, lab = found.group(1), found.group(2)
    assert lab in (GENERATED_LABS if where.startswith(".cache/") else LOCAL_LABS)
    assert links["group_vars"] == f"../../{where}/group_vars/"
    assert conf["provisioner"]["env"]["LAB"] == lab, "the tests read the same inventory (labkit)"
    assert conf["provisioner"]["env"]["LAB_INVENTORY"] == "${MOLECULE_PROJECT_DIRECTORY}/" + where
    assert conf["provisioner"]["playbooks"]["create"] == "../../playbooks/lab-nodes.yml"
    assert conf["provisioner"]["playbooks"]["destroy"] == "../../playbooks/lab-nodes-down.yml"


def test_the_scale_scenario_is_the_generated_five_node_lab():
    """molecule/scale reads .cache/inventory/lab, which `make test-scale` writes for NODES=5 before
    molecule runs (tests/unit/test_lab_inventory.py checks the Makefile): the base sequence, no check step."""
    conf = _scenario("scale")
    assert conf["provisioner"]["inventory"]["links"]["hosts"] == "../../.cache/inventory/lab/hosts.yml"
    assert conf["provisioner"]["env"]["LAB_NODE_RELEASE"] == "bookworm"
    assert conf["scenario"]["test_sequence"] == _scenario("default")["scenario"]["test_sequence"]
    assert "check" not in conf["scenario"]["test_sequence"]


def test_the_scale_swarm_scenario_is_the_generated_three_manager_lab():
    """molecule/scale-swarm reads .cache/inventory/swarm, which `make test-scale` writes for
    NODES=3 BACKEND=swarm after making the two-node swarm lab: Debian 13 nodes, no check step
    (swarm runs it), and no destroy first: the running two-node lab is what grows."""
    conf = _scenario("scale-swarm")
    assert conf["provisioner"]["inventory"]["links"]["hosts"] == "../../.cache/inventory/swarm/hosts.yml"
    assert conf["provisioner"]["env"]["LAB_NODE_RELEASE"] == "trixie"
    base = _scenario("default")["scenario"]["test_sequence"]
    assert conf["scenario"]["test_sequence"] == [step for step in base if step != "destroy"] + ["destroy"]


def test_only_the_swarm_scenario_previews_fresh_nodes():
    """The fresh-node check (record, site.yml --check, compare) runs once in test-all, where it costs
    least: the swarm scenario (Docker 26's install and the swarm previewed)."""
    for name in _scenarios():
        sequence = _scenario(name)["scenario"]["test_sequence"]
        if name == "swarm":
            at = sequence.index("check")
            assert sequence[at - 1:at + 3] == ["prepare", "check", "side_effect", "converge"], sequence
        else:
            assert "check" not in sequence, name


@pytest.mark.parametrize("scenario", _scenarios())
def test_each_scenario_builds_the_images_of_its_release_first(scenario):
    """The dependency step, first: scripts/images.sh for the release the nodes run (LAB_NODE_RELEASE),
    which skips what is built and waits for a build under way (make test-all's background trixie)."""
    conf = _scenario(scenario)
    release = conf["provisioner"]["env"]["LAB_NODE_RELEASE"]
    command = f"${{MOLECULE_PROJECT_DIRECTORY}}/scripts/images.sh {release}"
    assert conf["dependency"] == {"name": "shell", "command": command}
    assert conf["scenario"]["test_sequence"][0] == "dependency"


@pytest.mark.parametrize(("lab", "backend", "nodes", "name"), [
    ("lab", "cluster-store", 2, "default"),
    ("lab", "cluster-store", 3, "default"),  # a generated lab of another size: the two-node tests
    ("lab", "cluster-store", 5, "scale"),
    ("ha", "cluster-store", 3, "ha"),
    ("lab", "swarm", 2, "swarm"),  # labkit reads the backend from the nodes
    ("swarm", "swarm", 3, "scale-swarm"),  # three managers
    ("swarm", "swarm", 5, "swarm"),
])
def test_the_scenario_a_lab_is(lab, backend, nodes, name):
    """conftest selects the tests of the scenario the lab under test is (labkit.scenario)."""
    assert labkit.scenario(lab, backend, nodes) == name
    assert name in _scenarios()


def test_vagrant_nodes_match_the_inventory():
    assert _inventory("vagrant") == _inventory("lab")
    ruby = ROOT / "Vagrantfile"
    text = ruby.read_text()
    assert "inventory/vagrant/hosts.yml" in text
    assert re.search(r'vm\.box = "debian/bookworm64"', text)
    assert "vb.memory = 1024" in text and "vb.cpus = 1" in text


def test_no_privileged_anywhere():
    offenders = []
    for path in ROOT.rglob("*.yml"):
        if any(part in (".venv", ".cache") for part in path.parts):
            continue
        if re.search(r"^\s*privileged:\s*true", path.read_text(), re.M):
            offenders.append(str(path))
    assert not offenders


@pytest.mark.parametrize("name", ["lab", "ha", "vagrant", "example"])
def test_every_inventory_links_every_shared_group_vars_file(name):
    """inventory/group_vars is shared through one file link per file (collections allow no
    directory links): a file added there must be linked from every inventory it is for;
    local_lab.yml only from the labs whose nodes are containers on this machine."""
    shared = ROOT / "inventory" / "group_vars"
    mine = ROOT / "inventory" / name / "group_vars"
    want = sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file()
                  if name in LOCAL_LABS or p.name != "local_lab.yml")
    have = sorted(p.relative_to(mine) for p in mine.rglob("*") if p.is_file())
    assert have == want
    for rel in have:
        assert (mine / rel).is_symlink() and (mine / rel).resolve() == (shared / rel).resolve()


def test_host_keys_are_checked_over_ssh():
    # Only the local labs skip SSH (community.docker.docker); real servers keep host key checking.
    out = subprocess.run(
        ["ansible-config", "dump", "--only-changed"], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    ).stdout
    assert "HOST_KEY_CHECKING" not in out, out
    local = yaml.safe_load((ROOT / "inventory/group_vars/local_lab.yml").read_text())
    assert local["ansible_connection"] == "community.docker.docker"


def test_controller_paths_resolve_to_the_repository_from_every_playbook_directory():
    """pki_dir, etcd_backup_dir and the local lab's image archives derive from playbook_dir, which
    is the directory of the playbook a play comes from: site.yml's, playbooks/ or playbooks/stages/.
    From each, the default must name the repository's .cache, never one beside the playbook."""
    dirs = {p.parent for p in (ROOT / "playbooks").rglob("*.yml")} | {ROOT}
    assert ROOT / "playbooks" / "stages" in dirs
    found = 0
    for path in [ROOT / "roles/pki/defaults/main.yml", ROOT / "roles/etcd/defaults/main.yml",
                 ROOT / "inventory/group_vars/local_lab.yml"]:
        for pattern in re.findall(r"playbook_dir \| regex_replace\('([^']+)', ''\)", path.read_text()):
            found += 1
            for where in dirs:
                assert re.sub(pattern, "", str(where)) == str(ROOT), (path, pattern, where)
    assert found == 3


@pytest.mark.parametrize(("tags", "checks"), [("etcd", True), ("etcd,overlay", True), ("preflight", True),
                                              ("app", False), ("overlay", False)])
def test_the_etcd_stage_runs_after_the_preflights_checks_whatever_tags_select(tags, checks):
    """site.yml imports the preflight once: with --tags etcd its checks (etcd's quorum, the TLS
    warning, the one read) still run first, as playbooks/etcd.yml runs them; the inputs are
    checked for every tag."""
    out = subprocess.run(
        ["ansible-playbook", "-i", "inventory/lab", "site.yml", "--list-tasks", "--tags", tags], cwd=ROOT,
        capture_output=True, text=True, check=True, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    ).stdout
    assert "Check every option set for the roles" in out
    assert ("Check the lab, then read each node once for every host-level stage" in out) is checks
