"""The lab report (playbooks/report.yml, `make report`) against the live nodes, its page in
headless Chromium, and the guided tour (scripts/tour.py, `make tour`)."""

import json
import re
import shutil
import subprocess
import sys

import pytest
from labkit import CACHE, ROOT, ansible_env, ansible_module, assert_converged, run_playbook
from report_model import packet_paths

REPORT = CACHE / "report"

# What the report reads differs by backend (swarm's base-36 network IDs, no store in etcd);
# three nodes add nothing. The page and the tour: the tutorial's lab.
pytestmark = pytest.mark.scenarios("default", "swarm")


@pytest.fixture(scope="module")
def report():
    """lab.json of one report run (read-only: changed=0)."""
    rc, out = run_playbook("playbooks/report.yml")
    assert_converged(rc, out, changed=0, what="playbooks/report.yml")
    assert f"Open {REPORT / 'index.html'}" in out
    return json.loads((REPORT / "lab.json").read_text())


def test_report_in_check_mode_changes_nothing(report):
    rc, out = run_playbook("playbooks/report.yml", "--check")
    assert_converged(rc, out, changed=0, what="playbooks/report.yml --check")
    for name in ("lab.json", "lab.mmd", "lab.svg", "index.html"):
        assert (REPORT / name).stat().st_size > 0, name


def test_every_node_is_in_the_report(report, nodes):
    assert list(report["nodes"]) == [n.name for n in nodes]
    for node in nodes:
        entry = report["nodes"][node.name]
        assert entry["error"] is None and entry["lab_address"] == node.address
        assert entry["backend"]["backend"] == node.backend()
        assert sorted(m["name"] for m in entry["etcd"]["members"]) == sorted(n.name for n in nodes)
        assert all(h["health"] for h in entry["etcd"]["health"]), entry["etcd"]


def _demo_vxlan(node):
    """demo's VXLAN device as `ip -d` shows it in the overlay's namespace on node; None
    where no container on the node has joined demo (Docker makes the namespace then)."""
    net_id = node.check("docker network inspect -f '{{.Id}}' demo").strip()
    found = [n for n in node.run("ls /var/run/docker/netns").stdout.split() if re.fullmatch(rf"\d+-{net_id[:10]}", n)]
    if not found:
        return None, None
    (ns,) = found
    (vx,) = json.loads(node.check(f"nsenter --net=/var/run/docker/netns/{ns} ip -j -d link show type vxlan"))
    return f"/var/run/docker/netns/{ns}", vx


def test_vni_of_demo_is_the_vxlan_id_in_its_namespace(report, nodes):
    vnis, joined = set(), []
    for node in nodes:
        path, vx = _demo_vxlan(node)
        entry = report["nodes"][node.name]
        if path is None:
            assert not [o for o in entry["overlays"] if o["network"] == "demo"], entry["overlays"]
            continue
        joined.append(node.name)
        (overlay,) = [o for o in entry["overlays"] if o["network"] == "demo"]
        (network,) = [n for n in entry["networks"] if n["name"] == "demo"]
        assert overlay["namespace"] == path and overlay["vxlan"] == vx["ifname"]
        assert overlay["vni"] == network["vni"] == vx["linkinfo"]["info_data"]["id"]
        assert overlay["port"] == vx["linkinfo"]["info_data"]["port"] and overlay["mtu"] == vx["mtu"]
        vnis.add(overlay["vni"])
    assert len(joined) >= 2, f"demo's namespace only on {joined}: the app and redis nodes have one"
    assert len(vnis) == 1, f"demo has different VNIs on the nodes: {vnis}"


def test_containers_and_their_host_veths(report, nodes):
    for node in nodes:
        containers = report["nodes"][node.name]["containers"]
        assert sorted(c["name"] for c in containers) == sorted(node.check("docker ps --format '{{.Names}}'").split())
        for c in containers:
            inside = {i["ifname"]: i for i in json.loads(node.check(f"nsenter -t {c['pid']} -n ip -j link"))}
            for iface in c["interfaces"]:
                peer = iface["peer"]
                if not peer:
                    continue
                where = "" if peer["namespace"] == "host" else f"nsenter --net={peer['namespace']} "
                (other,) = json.loads(node.check(f"{where}ip -j link show {peer['name']}"))
                assert other["ifindex"] == inside[iface["name"]]["link_index"], (c["name"], iface["name"])
                assert other.get("master") == peer["bridge"], (c["name"], iface["name"])


def test_containers_as_container_netns_info_reports_them(report, nodes):
    for node in nodes:
        result = ansible_module(node.name, "lab.multihost.container_netns_info", {})
        assert not result.get("failed"), result
        mine = [{k: v for k, v in c.items() if k not in ("image", "endpoints")}
                for c in report["nodes"][node.name]["containers"]]
        assert mine == sorted(result["containers"], key=lambda c: c["name"])


def test_namespace_lab_pairs(report, nodes):
    for node in nodes:
        pairs = {tuple((e["namespace"], e["name"]) for e in p) for p in report["nodes"][node.name]["veth_pairs"]}
        assert (("test1", "veth-test1"), ("test2", "veth-test2")) in pairs
        ports = json.loads(node.check("ip -n ns-lab-sw -j link show master br-lab"))
        for port in ports:
            assert any(("ns-lab-sw", port["ifname"]) in p for p in pairs), port["ifname"]


def test_packet_path_between_app_and_redis(report, app_node, redis_node):
    paths = {(p["src"][1], p["dst"][1]): p for p in packet_paths(report)}
    path = paths.get(("app", "redis")) or paths[("redis", "app")]
    assert path["problems"] == []
    devices = [h["device"] for h in path["hops"]]
    assert devices[0] == "eth0" and devices[-1] == "eth0" and "br0" in devices and devices.count("vxlan0") == 2
    assert {h["node"] for h in path["hops"]} == {app_node.name, redis_node.name}


@pytest.mark.scenarios("default")
def test_page_in_headless_chromium(report, tmp_path, nodes):
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: scripts/host-package.sh chromium (make molecule does)"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", f"--user-data-dir={tmp_path}"]
    page = (REPORT / "index.html").as_uri()
    dom = subprocess.run([*flags, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<svg" in dom.stdout and "demo" in dom.stdout
    assert all(n.name in dom.stdout for n in nodes)
    shot = REPORT / "index.png"
    shot.unlink(missing_ok=True)
    res = subprocess.run([*flags, "--window-size=1400,2400", f"--screenshot={shot}", page],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", res.stderr[-2000:]


@pytest.mark.scenarios("default")
def test_tour(nodes):
    """The tour's claims hold on the lab, and it leaves nothing behind."""
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "tour.py")], capture_output=True, text=True,
                         timeout=900, env=ansible_env(), check=False)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert "tour: every claim holds" in res.stdout
    prefix = re.search(r"== cleanup \(prefix (\w+)\)", res.stdout).group(1)
    for node in nodes:
        left = (node.check("docker ps -a --format '{{.Names}}'").split()
                + node.check("docker network ls --format '{{.Name}}'").split()
                + node.check("ip netns list").split())
        assert not [x for x in left if x.startswith(prefix)], (node.name, left)
