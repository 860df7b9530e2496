"""The lab is defined once: molecule's nodes and the Vagrant VMs must match the inventory."""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _inventory(name):
    inv = yaml.safe_load((ROOT / "inventory" / name / "hosts.yml").read_text())
    return {h: v["lab_address"] for h, v in inv["all"]["children"]["nodes"]["hosts"].items()}


def _molecule(scenario):
    conf = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())
    return conf, {
        p["name"]: next(n["ipv4_address"] for n in p["networks"]) for p in conf["platforms"]
    }


def _scenarios():
    return sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def test_lab_is_the_original_two_nodes():
    assert _inventory("lab") == {"docker-node1": "192.168.205.10", "docker-node2": "192.168.205.11"}


@pytest.mark.parametrize("scenario", _scenarios())
def test_molecule_nodes_match_the_inventory(scenario):
    conf, nodes = _molecule(scenario)
    assert nodes == _inventory("lab")
    for p in conf["platforms"]:
        assert p["hostname"] == p["name"]
        assert not p.get("privileged"), "privileged nodes do not start on every host"
        assert p.get("pre_build_image"), "node images come from scripts/images.sh, never a registry"
    assert conf["provisioner"]["inventory"]["links"]["hosts"] == "../../inventory/lab/hosts.yml"


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


@pytest.mark.parametrize("name", ["lab", "vagrant", "example"])
def test_every_inventory_links_every_shared_group_vars_file(name):
    """inventory/group_vars is shared through one file link per file (collections allow no
    directory links): a file added there must be linked from every inventory."""
    shared = ROOT / "inventory" / "group_vars"
    mine = ROOT / "inventory" / name / "group_vars"
    want = sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file())
    have = sorted(p.relative_to(mine) for p in mine.rglob("*") if p.is_file())
    assert have == want
    for rel in have:
        assert (mine / rel).is_symlink() and (mine / rel).resolve() == (shared / rel).resolve()
