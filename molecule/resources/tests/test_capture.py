"""make capture (scripts/capture.py) on the live lab: the VXLAN packets it catches on a node's
lab interface decode (scripts/vxlan.py) to demo's VNI as the kernel holds it on that node,
between the two nodes' lab addresses on UDP 4789, and it leaves nothing behind."""

import re
import subprocess
import sys

import pytest
import vxlan
from labkit import ROOT, ansible_env

# The VNI lookup differs by backend (swarm: base-36 network IDs, the VNI also in the
# network's options, the overlay's namespace made when a container joins); three nodes add nothing.
pytestmark = pytest.mark.scenarios("default", "swarm")


@pytest.fixture(scope="module", params=[0, 1], ids=["default node", "second node"])
def captured(request, nodes):
    """(node, the script's run, its pcap decoded) of one capture: on the inventory's first
    node without arguments, as `make capture` runs it, then on the second (--node)."""
    node = nodes[request.param]
    argv = [sys.executable, str(ROOT / "scripts" / "capture.py")] + (["--node", node.name] if request.param else [])
    res = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=ansible_env(), check=False)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    wrote = re.search(r"^wrote (\S+\.pcap)$", res.stdout, re.M)
    assert wrote, res.stdout[-3000:]
    with open(wrote.group(1), "rb") as f:
        rows = vxlan.decode_pcap(f.read())
    return node, res, rows


def _run_on(node):
    def run(cmd):
        res = node.run(cmd)
        return res.rc, res.stdout
    return run


def test_packets_carry_demos_vni_between_the_nodes_lab_addresses(captured, nodes):
    node, res, rows = captured
    packets = [r["packet"] for r in rows if r["packet"]]
    assert packets, f"no VXLAN packet decoded: {rows}\n{res.stdout[-3000:]}"
    kernel = vxlan.overlay_vni(_run_on(node))  # swarm: checked against the network's vxlanid_list too
    assert {p["vni"] for p in packets} == {kernel["vni"]}, (kernel, res.stdout[-3000:])
    printed = re.search(r"^demo's VNI on (\S+) \(kernel: (\S+) in (\S+)\): (\d+)", res.stdout, re.M)
    assert printed and printed.groups() == (node.name, kernel["device"], kernel["namespace"], str(kernel["vni"]))
    assert f"equals demo's VNI {kernel['vni']}: yes" in res.stdout
    addresses = {n.address for n in nodes[:2]}
    for p in packets:
        assert {p["src"], p["dst"]} == addresses and p["dport"] == vxlan.VXLAN_PORT, p
        assert p["flags"] & 0x08, p  # flag I: the VNI is valid
    peer = next(n for n in nodes if n.name != node.name)
    icmp = {(p["src"], p["dst"], p["icmp_type"]) for p in packets if "icmp_type" in p}
    assert (node.address, peer.address, 8) in icmp and (peer.address, node.address, 0) in icmp, icmp


def test_nothing_is_left_behind(captured, nodes):
    node, res, _rows = captured
    prefix = re.search(r"^== cleanup \(prefix (cap[0-9a-f]{6})\)$", res.stdout, re.M).group(1)
    for n in nodes:
        names = n.check("docker ps -a --format '{{.Names}}'").split()
        assert not [x for x in names if x.startswith(prefix)], (n.name, names)
        assert "tcpdump" not in n.check("ps -eo comm").split(), f"a tcpdump still runs on {n.name}"
    assert node.check("find /var/lib/docker /tmp -name capture.pcap -print") == ""
