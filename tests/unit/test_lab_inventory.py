"""Generated labs (scripts/lab_inventory.py): the placement rules for every N, the tutorial's lab
for N=2, the written inventory as Ansible reads it, and the Makefile's way to choose a lab.
No engine, no lab: seconds."""

import json
import os
import subprocess

import lab_inventory as gen
import labkit
import pytest
import yaml

ROOT = labkit.ROOT
ALL_N = range(gen.MIN_NODES, gen.MAX_NODES + 1)


def _groups(data):
    """Group -> hosts in inventory order, children resolved (as labkit.Inventory resolves them)."""
    children = data["all"]["children"]

    def hosts(name):
        spec = children.get(name) or {}
        out = list(spec.get("hosts") or {})
        for child in spec.get("children") or {}:
            out += [h for h in hosts(child) if h not in out]
        return out

    return {name: hosts(name) for name in children}


@pytest.mark.parametrize("backend", list(gen.BACKENDS))
@pytest.mark.parametrize("n", ALL_N)
def test_placement_rules(n, backend):
    data, notes = gen.inventory(n, backend)
    groups = _groups(data)
    names = [f"docker-node{i}" for i in range(1, n + 1)]
    assert groups["nodes"] == names and groups["docker"] == names and groups["local_lab"] == names
    # etcd: every node up to 3; from 4 an odd number, the last node left out when N is even.
    etcd = names if n <= 3 or n % 2 else names[:-1]
    assert groups["etcd"] == etcd
    assert len(etcd) % 2 == 1 or n == 2
    if etcd != names:
        assert len(notes) == 1 and names[-1] in notes[0] and "left out" in notes[0], notes
    else:
        assert notes == []
    # swarm: one manager below 3 nodes, the first three from 3; the rest are workers.
    managers = names[:1] if n < 3 else names[:3]
    assert groups["swarm_managers"] == managers
    assert groups["swarm_workers"] == [h for h in names if h not in managers]
    assert groups["app"] == [names[0]] and groups["redis"] == [names[-1]]


@pytest.mark.parametrize("n", ALL_N)
def test_nodes_and_addresses_from_the_lab_network(n):
    data, _notes = gen.inventory(n)
    hosts = data["all"]["children"]["nodes"]["hosts"]
    subnet = yaml.safe_load((ROOT / "inventory/group_vars/local_lab.yml").read_text())["lab_network"]["subnet"]
    assert subnet == "192.168.205.0/24"
    assert {h: v["lab_address"] for h, v in hosts.items()} == {
        f"docker-node{i + 1}": f"192.168.205.{10 + i}" for i in range(n)}


def test_two_nodes_on_cluster_store_are_the_tutorial_lab():
    """make lab NODES=2 is make lab: hosts, groups and lab_name of inventory/lab, parsed."""
    tutorial = yaml.safe_load((ROOT / "inventory/lab/hosts.yml").read_text())["all"]
    for data in (gen.inventory(2)[0], yaml.safe_load(gen.render(*gen.inventory(2), "NODES=2"))):
        assert data["all"]["children"] == tutorial["children"]
        assert data["all"]["vars"]["lab_name"] == tutorial["vars"]["lab_name"] == "lab"


def test_the_three_node_lab_has_the_nodes_of_three():
    ha = yaml.safe_load((ROOT / "inventory/ha/hosts.yml").read_text())["all"]["children"]["nodes"]
    assert ha == gen.inventory(3)[0]["all"]["children"]["nodes"]


@pytest.mark.parametrize(("backend", "lab", "release"), [
    ("cluster-store", "lab", "bookworm"),
    ("swarm", "swarm", "trixie"),
])
def test_backend_names_the_lab_and_its_release(backend, lab, release):
    data, _notes = gen.inventory(3, backend)
    assert data["all"]["vars"] == {"lab_name": lab, "lab_node_release": release}


def test_a_growing_lab_keeps_redis_where_it_runs():
    names = list(gen.nodes(3))
    groups, notes = gen.placement(names, redis_running="docker-node2")
    assert groups["redis"] == ["docker-node2"] and "redis stays on docker-node2" in notes[0], notes
    for running in (None, "docker-node3", "docker-node7"):  # no lab, already the last, not a node of it
        groups, notes = gen.placement(names, redis_running=running)
        assert groups["redis"] == ["docker-node3"] and notes == []


@pytest.mark.parametrize("value", ["1", "10", "0", "-2", "abc", "", "3.0", "2 3"])
def test_nodes_outside_2_to_9_are_refused(value):
    with pytest.raises(gen.LabError, match=r"NODES=.*a whole number from 2 to 9"):
        gen.inventory(value)


def test_the_cli_refuses_with_one_line(tmp_path, capsys):
    assert gen.main(["--nodes", "10", "--out", str(tmp_path / "inv")]) == 2
    assert gen.main(["--backend", "etcd", "--out", str(tmp_path / "inv")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "NODES=10" in err[0] and "BACKEND=etcd" in err[1], err
    assert not (tmp_path / "inv").exists()


def test_written_inventory_is_what_ansible_reads(tmp_path, capsys):
    out = tmp_path / "inventory" / "lab"
    assert gen.main(["--nodes", "4", "--redis-on", "docker-node4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "docker-node4 left out" in printed  # the reason, printed by the generator (and make lab)
    # The header lines scripts/lab.sh prints in its summary.
    header = [line for line in (out / "hosts.yml").read_text().splitlines() if line.startswith("# placement: ")]
    assert any("etcd: docker-node1 docker-node2 docker-node3" in line for line in header), header
    # group_vars: one relative link per shared file, as inventory/lab has them.
    shared = ROOT / "inventory" / "group_vars"
    mine = out / "group_vars"
    want = sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file())
    assert sorted(p.relative_to(mine) for p in mine.rglob("*") if p.is_file()) == want
    for rel in want:
        link = mine / rel
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert link.resolve() == (shared / rel).resolve()
    # Written again (make lab NODES=3 after NODES=4): the same links, no leftovers.
    assert gen.main(["--nodes", "3", "--redis-on", "docker-node3", "--out", str(out)]) == 0
    assert sorted(p.relative_to(mine) for p in mine.rglob("*") if p.is_file()) == want
    listed = json.loads(subprocess.run(
        [str(labkit.VENV_BIN / "ansible-inventory"), "-i", str(out), "--list"], cwd=ROOT, capture_output=True,
        text=True, check=True, env=labkit.ansible_env()).stdout)
    assert listed["etcd"] == {"children": ["nodes"]}
    assert listed["nodes"]["hosts"] == ["docker-node1", "docker-node2", "docker-node3"]
    host = listed["_meta"]["hostvars"]["docker-node3"]
    assert host["lab_address"] == "192.168.205.12" and host["lab_name"] == "lab"
    assert host["ansible_connection"] == "community.docker.docker"  # group_vars/local_lab.yml through the link
    assert host["lab_network"]["name"] == "docker-lab"
    assert listed["redis"]["hosts"] == ["docker-node3"] and listed["swarm_managers"]["hosts"] == [
        "docker-node1", "docker-node2", "docker-node3"]


def test_labkit_finds_a_generated_lab(tmp_path, monkeypatch):
    """The tests and benches find the lab make names: LAB_INVENTORY, else inventory/<LAB>."""
    out = tmp_path / "swarm"
    gen.write(out, *gen.inventory(5, "swarm"))
    monkeypatch.delenv("LAB", raising=False)
    monkeypatch.setenv("LAB_INVENTORY", str(out))
    assert labkit.lab_name() == "swarm" and labkit.inventory_path() == out
    inv = labkit.Inventory()
    assert inv.lab == "swarm" and len(inv.addresses) == 5 and inv.group("etcd") == list(inv.addresses)
    assert labkit.inventory_path("ha") == ROOT / "inventory" / "ha"  # another lab: its own inventory
    monkeypatch.setenv("LAB", "swarm")
    assert labkit.inventory_path(inv.lab) == out  # as tour and capture ask for it
    monkeypatch.delenv("LAB_INVENTORY")
    monkeypatch.setenv("LAB", "ha")
    assert labkit.inventory_path() == ROOT / "inventory" / "ha"


def _make(*args):
    """make -n (prints, runs nothing) with these arguments; (rc, stdout, stderr)."""
    dropped = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "LAB", "NODES", "BACKEND", "LAB_INVENTORY")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    res = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=60, check=False)
    return res.returncode, res.stdout, res.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["LAB=ha", "NODES=3"], "LAB=ha and NODES=3 both choose the lab"),
    (["LAB=lab", "BACKEND=swarm"], "LAB=lab and BACKEND=swarm both choose the lab"),
    (["NODES=10"], "NODES=10: a whole number from 2 to 9"),
    (["NODES=1"], "NODES=1: a whole number from 2 to 9"),
    (["NODES=three"], "NODES=three: a whole number from 2 to 9"),
    (["BACKEND=etcd"], "BACKEND=etcd: cluster-store or swarm"),
])
def test_make_refuses_a_lab_it_cannot_make_in_one_line(args, says):
    rc, out, err = _make("report", *args)
    assert rc != 0 and not out and len(err.strip().splitlines()) == 1 and says in err, err


@pytest.mark.parametrize(("args", "inventory", "generated"), [
    ([], "inventory/lab", None),
    (["LAB=ha"], "inventory/ha", None),
    (["NODES=5"], ".cache/inventory/lab", "--nodes 5 --backend cluster-store"),
    (["BACKEND=swarm"], ".cache/inventory/swarm", "--nodes 2 --backend swarm"),
    (["NODES=3", "BACKEND=swarm"], ".cache/inventory/swarm", "--nodes 3 --backend swarm"),
])
def test_every_lab_target_reads_one_inventory(args, inventory, generated):
    # Dry runs of the targets that only read the lab or clean up after themselves; lab and
    # lab-down are checked in the Makefile's text below, never run from a unit test.
    for target in ("lab-inventory", "report", "tour", "capture", "impair", "verify"):
        rc, out, err = _make(target, *args)
        assert rc == 0, err
        assert (f"lab_inventory.py {generated}" in out) == bool(generated), (target, out)
        if target != "lab-inventory":
            assert f"-i {inventory} " in out or f"LAB_INVENTORY={inventory} " in out, (target, out)


def test_make_test_scale_writes_the_two_generated_labs_then_runs_their_scenarios_outside_test_all():
    """make test-scale: test-swarm's prerequisites (the guard: no lab runs; the Debian 13 images), the
    inventory `make lab NODES=5` writes (.cache/inventory/lab, which molecule/scale links) and the
    scenario; then the two-node swarm lab, the inventory `make lab NODES=3 BACKEND=swarm` writes on it
    (.cache/inventory/swarm, which molecule/scale-swarm links) and that scenario. make test-all, CI's
    run within its 40-minute budget, leaves them out."""
    rc, out, err = _make("test-scale")
    assert rc == 0, err
    lines = out.splitlines()
    written = lines.index("python3 scripts/lab_inventory.py --nodes 5 --backend cluster-store")
    after = lines[written + 1:]
    assert after[0] == "scripts/molecule-timed.sh scale", out
    assert after[-2:] == ["python3 scripts/lab_inventory.py --nodes 3 --backend swarm",
                          "scripts/molecule-timed.sh scale-swarm"], out
    # Between them, `make lab NODES=2 BACKEND=swarm` as make runs it (make -n shows the sub-make's commands).
    assert "python3 scripts/lab_inventory.py --nodes 2 --backend swarm" in after[1:-2], out
    assert after[-3].endswith("LAB_SELECT='NODES=2 BACKEND=swarm' scripts/lab.sh up"), out
    rc, swarm, err = _make("test-swarm")
    assert rc == 0, err
    assert lines[:written] == swarm.splitlines()[:-1] and "scripts/lab.sh guard" in lines[:written], (out, swarm)
    rc, out, err = _make("test-all")
    assert rc == 0, err
    assert [line for line in out.splitlines() if "molecule-timed.sh" in line] == [
        "scripts/molecule-timed.sh default ha swarm"], out


def test_lab_and_lab_down_read_the_same_inventory():
    text = (ROOT / "Makefile").read_text()
    assert not [line for line in text.splitlines() if line.startswith("\t") and "inventory/$(LAB)" in line]
    for target, action in (("lab", "up"), ("lab-down", "down")):
        recipe = text.split(f"\n{target}: ", 1)[1].split("\n\n", 1)[0]
        assert "lab-inventory" in recipe.splitlines()[0].split(), recipe
        assert f"$(LAB_ENV) scripts/lab.sh {action}" in recipe, recipe
    assert "LAB_INVENTORY=$(INVENTORY)" in text
    assert "LAB_IMAGES := host $(if $(filter swarm,$(BACKEND)),trixie)" in text
    assert "\nlab: venv lab-inventory $(LAB_IMAGES)\n" in text


def test_lab_sh_reads_the_inventory_make_names():
    text = (ROOT / "scripts/lab.sh").read_text()
    assert 'inv=${LAB_INVENTORY:-inventory/$lab}' in text
    assert 'Re-apply:   ansible-playbook -i $inv site.yml' in text


def test_lab_down_finds_every_node_by_its_label():
    """make lab-down removes every node of the lab whatever inventory made it: the containers with
    the lab's label, not only the inventory's nodes."""
    plays = yaml.safe_load((ROOT / "playbooks/lab-nodes.yml").read_text())
    tasks = {t["name"]: t for t in plays[0]["tasks"]}
    find = tasks["Find every node of the lab by its label"]["community.docker.docker_host_info"]
    assert find["containers_all"] and find["containers_filters"] == {"label": "lab.multihost.lab={{ lab_label }}"}
    for name in ("Remove the node containers", "Remove the nodes' Docker volumes"):
        assert tasks[name]["loop"] == "{{ lab_nodes_gone }}"
    assert "lab_nodes_labelled.containers" in plays[0]["vars"]["lab_nodes_gone"]


def test_the_fence_allows_the_inventory_nodes():
    """The fence's allowed addresses come from the inventory, so a grown lab's new nodes are let in."""
    defaults = yaml.safe_load((ROOT / "roles/firewall/defaults/main.yml").read_text())
    assert "lab_address" in defaults["firewall_allowed_addresses"] and "groups['all']" in defaults[
        "firewall_allowed_addresses"]
    assert "192.168." not in (ROOT / "roles/firewall/defaults/main.yml").read_text()
