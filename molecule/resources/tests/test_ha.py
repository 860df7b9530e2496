"""The three-node lab keeps quorum: a node down, membership changes, backups and restore.

Runs on inventory/ha only. Every fault is caused for real: a node powered off
(`docker kill` of its container), a wiped data directory, a member taken out of the
inventory and put back, a snapshot restored, a corrupt snapshot offered.
"""

import json
import pathlib
import shutil
import tempfile
import time
import uuid

import pytest
import yaml
from labkit import (
    CACHE,
    ROOT,
    assert_converged,
    assert_left_out,
    assert_predicted,
    by_name,
    check_then_apply,
    count,
    etcd_healthy,
    etcd_members,
    hits,
    inventory_path,
    retry,
    run_playbook,
    running,
    should_run_on_demo,
    wait_healthy,
)

# What needs three members. Repairs are asserted here; that the next run changes nothing is
# the scenario's final proof (test_site.py).
pytestmark = [pytest.mark.scenarios("ha"), pytest.mark.disruptive]

# Unattended recovery must be done within this many seconds of the node's boot.
RECOVERY_SECONDS = 90

V3 = "lab-etcdctl "


DEMO_STATE = ("for ns in /run/docker/netns/*-*; do echo $ns; nsenter --net=$ns bridge fdb show dev vxlan0;"
              " nsenter --net=$ns ip neigh; done; nft list table inet lab_fence | grep -E 'elements|counter';"
              " journalctl -u docker -n 15 --no-pager -o cat")


def _pair_pings(a, b):
    """A fresh container on `demo` on node a reaches one on node b by name."""
    tag = uuid.uuid4().hex[:6]
    names = [f"q{tag}a", f"q{tag}b"]
    run = "docker run -d --pull never --name %s --network demo %s sleep 300"
    try:
        a.check(run, names[0], a.tools_image())
        b.check(run, names[1], b.tools_image())
        ok = retry(lambda: a.run("docker exec %s ping -c 1 -W 2 %s", names[0], names[1]).rc == 0, attempts=15)
        if not ok:  # what the next one to look needs: name, forwarding entries, fence, dockerd's last words
            print(a.run("docker exec %s getent hosts %s", names[0], names[1]).stdout)
            for node in (a, b):
                print(f"--- {node.name}\n" + node.run("sh -c %s", DEMO_STATE).stdout)
        return ok
    finally:
        a.run("docker rm -f %s", names[0])
        b.run("docker rm -f %s", names[1])
        # A node with no other container on demo (node3) now has a dockerd thread left in
        # demo's removed namespace (Docker 20.10): repaired as docs/recovery.md says.
        for node in (a, b):
            node.check("overlay-recover --repair")


def _state(node):
    """When etcd and dockerd last started: a restore that is refused changes neither."""
    return node.check("systemctl show -p ExecMainStartTimestampMonotonic --value etcd docker").split()


@pytest.fixture
def temp_inventory():
    """A copy of inventory/ha whose hosts.yml a test may edit; removed afterwards."""
    made = []

    def make(edit):
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="lab-inv-"))
        made.append(tmp)
        shutil.copytree(inventory_path("ha") / "group_vars", tmp / "group_vars")
        data = yaml.safe_load((inventory_path("ha") / "hosts.yml").read_text())
        edit(data["all"]["children"])
        (tmp / "hosts.yml").write_text(yaml.safe_dump(data))
        return str(tmp)

    yield make
    for tmp in made:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("index", range(3))
def test_a_node_down(index, nodes, app_node, redis_node, base_url):
    """With any one node powered off the other two keep etcd and `demo`; it rejoins by itself."""
    down = nodes[index]
    up = [n for n in nodes if n is not down]
    expected = should_run_on_demo(down)
    down.power_off()
    try:
        assert retry(lambda: etcd_healthy(up[0], up), attempts=15), f"etcd on {[n.name for n in up]} is not healthy"
        assert up[0].run("ETCDCTL_API=2 lab-etcdctl ls /docker").rc == 0
        assert _pair_pings(up[0], up[1]), f"demo does not carry traffic between {up[0].name} and {up[1].name}"
        if down.name == redis_node.name:
            # site.yml with a node down: that node named down, the others converged, in bounded time.
            started = time.monotonic()
            rc, out = run_playbook("site.yml", timeout=900)
            took = time.monotonic() - started
            assert_left_out(rc, out, nodes, [down])
            assert took < 600, f"site.yml with {down.name} down took {took:.0f} s"
    finally:
        down.power_on()
    down.wait_booted()
    # Unattended: overlay-recover restarts dockerd until its containers are back on demo.
    assert retry(lambda: running(down, expected), attempts=RECOVERY_SECONDS // 2, delay=2), (
        f"{down.name}: {expected} not all running:\n" + down.check("docker ps -a --format '{{.Names}} {{.Status}}'"))
    assert retry(lambda: etcd_healthy(down, nodes), attempts=45), f"{down.name} did not rejoin etcd"
    assert etcd_members(down) == sorted(n.name for n in nodes)
    assert _pair_pings(down, up[0]), f"{down.name} is not back on demo"
    wait_healthy(app_node if down is not app_node else up[0], base_url, attempts=45)


def test_a_thread_left_in_demo_on_a_node_without_containers_is_found_and_repaired(nodes):
    """docker-node3 runs nothing of the lab's on demo: a container leaving it there makes Docker 20.10
    remove demo's namespace and leave a dockerd thread inside (docs/recovery.md)."""
    node = nodes[2]
    name = f"t{uuid.uuid4().hex[:6]}"
    node.check("docker run -d --pull never --name %s --network demo %s sleep 300", name, node.tools_image())
    node.check("docker rm -f %s", name)
    assert json.loads(node.check("overlay-recover --check"))["restart_dockerd"] is True, "no thread was left"
    assert "a dockerd thread is still in the namespace of a removed overlay; restarting dockerd" in node.check(
        "overlay-recover --repair")
    assert json.loads(node.check("overlay-recover --check"))["restart_dockerd"] is False
    assert _pair_pings(node, nodes[0]), f"{node.name} is not back on demo after the repair"


def test_wiped_member_rejoins_as_a_new_member(nodes):
    node = nodes[2]
    key = f"/lab/wipe-{uuid.uuid4().hex[:6]}"
    nodes[0].check(V3 + f"put {key} survived")
    old = {m["name"]: m["ID"] for m in json.loads(nodes[0].check(V3 + "member list -w json"))["members"]}
    node.check("systemctl stop etcd && rm -rf /var/lib/etcd/cluster/member")
    rc, out = run_playbook("playbooks/etcd.yml")
    assert_converged(rc, out, what="playbooks/etcd.yml after a wiped data directory")
    new = {m["name"]: m["ID"] for m in json.loads(nodes[0].check(V3 + "member list -w json"))["members"]}
    assert sorted(new) == sorted(n.name for n in nodes)
    assert new[node.name] != old[node.name], "the wiped member came back under its old ID"
    assert retry(lambda: etcd_healthy(nodes[0], nodes))
    assert "tocommit" not in node.check("journalctl -u etcd -n 200 --no-pager")
    local = f"lab-etcdctl --endpoints=https://{node.address}:2379 "
    assert node.check(local + f"get {key} --print-value-only --consistency=s").strip() == "survived"
    nodes[0].check(V3 + f"del {key}")


def test_shrink_to_two_then_grow_to_three(nodes, temp_inventory):
    """The two stages that change (etcd and the overlay) in one run each way, previewed in check
    mode and then applied: member removal and addition, and dockerd's restart where the cluster
    store's members changed."""
    leaving = nodes[2]
    stages = ("site.yml", "--tags", "etcd,overlay")

    def two_members(groups):
        groups["etcd"] = {"hosts": {n.name: None for n in nodes[:2]}}

    # Both membership changes go through `--check --diff` first: it must report them.
    predicted, applied = check_then_apply(*stages, inventory=temp_inventory(two_members))
    assert_predicted(predicted, applied, "etcd and the overlay without docker-node3 in group etcd")
    assert (leaving.name, "etcd : Remove this member from the cluster") in by_name(predicted)
    assert etcd_members(nodes[0]) == sorted(n.name for n in nodes[:2])
    assert leaving.run("systemctl is-active etcd").stdout.strip() != "active"
    assert leaving.run("systemctl is-enabled etcd").stdout.strip() == "disabled"
    # It was removed while it still ran: etcd itself noticed before it was stopped.
    assert "permanently removed" in leaving.check("journalctl -u etcd -n 100 --no-pager")
    # docker-node3's cluster store points at the two members and it keeps demo.
    store = json.loads(leaving.check("cat /etc/docker/daemon.json"))["cluster-store"]
    assert store == "etcd://" + ",".join(f"{n.address}:2379" for n in nodes[:2]), store
    assert _pair_pings(leaving, nodes[0]), "docker-node3 lost demo when it stopped being a member"

    # Grown back: the member is added, docker-node3's cluster store points at its own member again.
    predicted, applied = check_then_apply(*stages)
    assert_predicted(predicted, applied, "etcd and the overlay with docker-node3 back in group etcd")
    assert (leaving.name, "etcd : Add this member") in by_name(predicted)
    assert etcd_members(nodes[0]) == sorted(n.name for n in nodes)
    assert retry(lambda: etcd_healthy(nodes[0], nodes))
    assert _pair_pings(leaving, nodes[1])


def test_layout_that_cannot_work_is_refused(nodes, temp_inventory):
    def shared_address(groups):
        groups["nodes"]["hosts"]["docker-node3"]["lab_address"] = "192.168.205.11"

    rc, out = run_playbook("playbooks/preflight.yml", inventory=temp_inventory(shared_address))
    assert rc != 0 and "two members would run on one node" in out, out[-3000:]


def test_live_member_data_dir_change_is_refused(nodes):
    before = [_state(n) for n in nodes]
    rc, out = run_playbook("playbooks/etcd.yml", "-e", "etcd_data_dir=/var/lib/etcd/elsewhere")
    assert rc != 0 and "a live member cannot move them in place" in out and "etcd-backup.yml" in out, out[-3000:]
    assert [_state(n) for n in nodes] == before


def test_backup_then_restore(nodes, app_node, redis_node, base_url):
    net_id = nodes[0].check("docker network inspect -f '{{.Id}}' demo").strip()
    rc, out = run_playbook("playbooks/etcd-backup.yml")
    assert_converged(rc, out, what="playbooks/etcd-backup.yml")
    snapshots = sorted((CACHE / "backups/etcd").glob("ha-*.db"), key=lambda p: p.stat().st_mtime)
    assert snapshots, "no snapshot under .cache/backups/etcd"
    snapshot = snapshots[-1]
    assert snapshot.with_suffix(".v2.json").exists(), "the v2 keyspace (Docker's cluster store) was not kept"
    before = hits(redis_node)

    rc, out = run_playbook("playbooks/etcd-restore.yml", "-e", f"etcd_snapshot={snapshot}")
    assert_converged(rc, out, what="playbooks/etcd-restore.yml")
    assert etcd_members(nodes[0]) == sorted(n.name for n in nodes)
    for node in nodes:
        assert node.check("docker network inspect -f '{{.Id}}' demo").strip() == net_id
    assert _pair_pings(nodes[0], nodes[2]) and _pair_pings(nodes[1], nodes[0])
    wait_healthy(app_node, base_url, attempts=60)
    n = count(app_node, base_url)
    assert n == before + 1, f"after the restore the counter went from {before} to {n}"


def test_corrupt_snapshot_is_refused_before_anything_stops(nodes):
    bad = CACHE / "backups/etcd/corrupt.db"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not a snapshot\n" * 100)
    before = [_state(n) for n in nodes]
    try:
        rc, out = run_playbook("playbooks/etcd-restore.yml", "-e", f"etcd_snapshot={bad}")
    finally:
        bad.unlink()
    assert rc != 0 and "is not a usable snapshot" in out and "Nothing was stopped" in out, out[-3000:]
    assert [_state(n) for n in nodes] == before, "etcd or dockerd restarted although the snapshot was refused"
    for node in nodes:
        assert node.run("test -e /var/tmp/etcd-restore.db").rc != 0


def test_missing_snapshot_is_refused(nodes):
    rc, out = run_playbook("playbooks/etcd-restore.yml", "-e", f"etcd_snapshot={ROOT}/no-such.db")
    assert rc != 0 and "does not exist on the controller" in out, out[-3000:]
