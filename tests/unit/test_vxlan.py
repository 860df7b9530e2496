"""The pcap reader and VXLAN decoder (scripts/vxlan.py) on a real capture, the
VNI lookup on a node, and how scripts/capture.py prints and judges packets.

fixtures/vxlan.pcap was captured on this machine without the lab: two network
namespaces joined by a veth (192.0.2.1/24 and 192.0.2.2/24), in each a VXLAN
device (`ip link add vx0 type vxlan id 4242 remote <peer> dstport 4789 dev
<veth>`, 10.42.0.1/24 and 10.42.0.2/24, IPv6 off), two ICMP echo requests
from 10.42.0.1 to 10.42.0.2 (a raw socket: no ping on that machine), and
`tcpdump -n -U -c 6 -i <veth> -w vxlan.pcap udp port 4789` on the first
namespace's veth. tcpdump -r read it as: the inner ARP request and reply,
then two echo requests and their replies, all VNI 4242."""

import json
import pathlib
import struct

import capture
import pytest
import vxlan

PCAP = (pathlib.Path(__file__).parent / "fixtures" / "vxlan.pcap").read_bytes()
A, B = "192.0.2.1", "192.0.2.2"  # the veth ends
IA, IB = "10.42.0.1", "10.42.0.2"  # the VXLAN devices


def test_the_fixture_is_an_ethernet_pcap_of_six_frames():
    linktype, records = vxlan.read_pcap(PCAP)
    assert linktype == vxlan.LINKTYPE_ETHERNET and len(records) == 6
    assert records[0][0] == pytest.approx(1796586934.421354)  # tcpdump -tt -r: 1796586934.421354
    assert [when for when, _frame in records] == sorted(when for when, _frame in records)


def test_decoded_as_tcpdump_decoded_it():
    rows = vxlan.decode_pcap(PCAP)
    assert [r["error"] for r in rows] == [None] * 6
    pkts = [r["packet"] for r in rows]
    assert {p["vni"] for p in pkts} == {4242} and all(p["flags"] == 0x08 and p["dport"] == 4789 for p in pkts)
    assert [(p["src"], p["dst"]) for p in pkts] == [(A, B), (B, A)] * 3
    # tcpdump: 192.0.2.1.46638 > 192.0.2.2.4789 (ARP request), 192.0.2.1.46889 > 192.0.2.2.4789 (echo request)
    assert (pkts[0]["sport"], pkts[2]["sport"]) == (46638, 46889)
    assert [p["inner_type"] for p in pkts] == [0x0806, 0x0806] + [0x0800] * 4
    assert [(p.get("inner_src"), p.get("inner_dst"), p.get("icmp_type")) for p in pkts[2:]] == [
        (IA, IB, 8), (IB, IA, 0), (IA, IB, 8), (IB, IA, 0)]
    assert [vxlan.inner_summary(p) for p in pkts[1:3]] == ["ARP", f"{IA} -> {IB}"]
    assert [vxlan.icmp_summary(p) for p in pkts[1:4]] == ["-", "echo request (8)", "echo reply (0)"]


def _pcap(linktype, frames, order="<", nanoseconds=False):
    """A classic pcap file of frames [(time, bytes)]."""
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    for when, frame in frames:
        frac = round((when % 1) * (1e9 if nanoseconds else 1e6))
        out += struct.pack(order + "IIII", int(when), frac, len(frame), len(frame)) + frame
    return out


def _ipv4():
    return vxlan.pcap_packets(PCAP)


@pytest.mark.parametrize("order,nanoseconds", [("<", False), (">", False), ("<", True), (">", True)])
def test_byte_orders_and_nanosecond_timestamps(order, nanoseconds):
    frames = list(_ipv4())
    read = vxlan.pcap_packets(_pcap(vxlan.LINKTYPE_RAW, frames, order, nanoseconds))
    assert [p for _w, p in read] == [p for _w, p in frames]
    assert read[2][0] == pytest.approx(frames[2][0], abs=1e-6)


def test_linux_cooked_captures_give_the_same_packets():
    """tcpdump -i any writes Linux cooked frames: SLL (16-byte header) or SLL2 (20)."""
    packets = _ipv4()
    sll = [(w, struct.pack(">HHH8sH", 4, 1, 6, bytes(8), 0x0800) + p) for w, p in packets]
    sll2 = [(w, struct.pack(">HHIHBB8s", 0x0800, 0, 2, 1, 4, 6, bytes(8)) + p) for w, p in packets]
    arp = (0.0, struct.pack(">HHH8sH", 4, 1, 6, bytes(8), 0x0806) + bytes(28))
    for linktype, frames in ((vxlan.LINKTYPE_LINUX_SLL, sll + [arp]), (vxlan.LINKTYPE_LINUX_SLL2, sll2)):
        assert vxlan.pcap_packets(_pcap(linktype, frames)) == packets, linktype


def test_vlan_tags_and_frames_without_ipv4():
    linktype, records = vxlan.read_pcap(PCAP)
    frame = records[2][1]
    tagged = frame[:12] + bytes.fromhex("8100 0064") + frame[12:]
    ipv6 = frame[:12] + bytes.fromhex("86dd") + bytes(40)
    got = vxlan.pcap_packets(_pcap(linktype, [(1.0, tagged), (2.0, ipv6)]))
    assert [(w, vxlan.decode_vxlan(p)["vni"]) for w, p in got] == [(1.0, 4242)]


def test_a_last_record_cut_short_is_left_out_and_other_files_are_refused():
    assert len(vxlan.read_pcap(PCAP[:-10])[1]) == 5
    with pytest.raises(ValueError, match="pcapng"):
        vxlan.read_pcap(bytes.fromhex("0a0d0d0a") + bytes(40))
    with pytest.raises(ValueError, match="24-byte header"):
        vxlan.read_pcap(PCAP[:10])
    with pytest.raises(ValueError, match="link type 105"):
        vxlan.pcap_packets(_pcap(105, [(0.0, b"x")]))


def test_a_udp_packet_that_is_no_vxlan_is_a_row_with_its_error():
    packet = bytearray(_ipv4()[0][1])
    short = bytes(packet[:20 + 8 + 4])  # outer IPv4 and UDP, a VXLAN header cut short
    rows = vxlan.decode_pcap(_pcap(vxlan.LINKTYPE_RAW, [(1.0, short)]))
    assert rows == [{"time": 1.0, "packet": None, "error": "too short for VXLAN"}]


# ---------------------------------------------------------------- the VNI on a node

NET_ID = "f3b1c2d4e5a6978812345678"


def _node(vni=256, options=None, namespaces=("1-" + NET_ID[:10],), devices=1):
    """A run(cmd) -> (rc, stdout) that answers overlay_vni's commands as a node would."""
    seen = []

    def run(cmd):
        seen.append(cmd)
        if cmd.startswith("docker network inspect"):
            return 0, f"{NET_ID} {json.dumps(options)}\n"
        if cmd.startswith("ls /var/run/docker/netns"):
            assert f"'^[0-9]+-{NET_ID[:10]}$'" in cmd
            return (0 if namespaces else 1), "".join(n + "\n" for n in namespaces)
        if cmd.startswith("nsenter --net=/var/run/docker/netns/"):
            dev = {"ifname": "vxlan0", "linkinfo": {"info_kind": "vxlan", "info_data": {"id": vni, "port": 4789}}}
            return 0, json.dumps([dev] * devices)
        raise AssertionError(cmd)
    run.seen = seen
    return run


def test_vni_from_the_kernel_on_the_cluster_store():
    run = _node(options={"com.docker.network.driver.mtu": "1450"})
    found = vxlan.overlay_vni(run)
    assert found == {"vni": 256, "namespace": f"/var/run/docker/netns/1-{NET_ID[:10]}", "device": "vxlan0",
                     "option": None}
    assert vxlan.demo_vni(_node(options=None)) == 256
    assert run.seen[-1] == f"nsenter --net=/var/run/docker/netns/1-{NET_ID[:10]} ip -j -d link show type vxlan"


def test_swarm_records_the_vni_in_the_network_options_and_the_kernel_must_agree():
    option = {vxlan.VNI_OPTION: "4097"}
    assert vxlan.overlay_vni(_node(vni=4097, options=option))["option"] == [4097]
    with pytest.raises(vxlan.VniError, match="kernel's vxlan0 has VNI 4098, .*vxlanid_list says 4097"):
        vxlan.overlay_vni(_node(vni=4098, options=option))


@pytest.mark.parametrize("node,message", [
    (dict(namespaces=()), "0 overlay namespaces of demo"),
    (dict(namespaces=("1-" + NET_ID[:10], "2-" + NET_ID[:10])), "2 overlay namespaces"),
    (dict(devices=0), "0 VXLAN devices"),
])
def test_vni_lookup_names_what_is_missing(node, message):
    with pytest.raises(vxlan.VniError, match=message):
        vxlan.overlay_vni(_node(**node))


# ---------------------------------------------------------------- capture.py's lines

def test_one_line_per_packet_outer_beside_inner():
    rows = vxlan.decode_pcap(PCAP)
    line = capture.packet_line(3, rows[2])
    assert line.split() == ["3", "19:55:34.421616", f"{A}:46889", "->", f"{B}:4789", "VNI", "4242", "|",
                            IA, "->", IB, "echo", "request", "(8)"]
    assert capture.HEADER.index("VXLAN") == line.index("VNI") and capture.HEADER.index("|") == line.index("|")
    assert capture.packet_line(1, {"time": 0.0, "packet": None, "error": "not UDP (protocol 6)"}) == (
        "  1  00:00:00.000000  not VXLAN: not UDP (protocol 6)")


def test_verdict_fails_without_packets_or_with_another_vni():
    rows = vxlan.decode_pcap(PCAP)
    assert capture.verdict(rows, 4242)[0] == 0
    assert capture.verdict(rows, 256) == (1, "VNI differs: packets carry 4242, demo's is 256")
    assert capture.verdict([], 4242) == (1, "no VXLAN packet was caught")
    assert capture.verdict([{"time": 0.0, "packet": None, "error": "x"}], 4242)[0] == 1
    assert capture.stamp(capture.datetime.datetime(2026, 12, 6, 20, 15, tzinfo=capture.datetime.timezone.utc)) == (
        "20261206T201500Z")
