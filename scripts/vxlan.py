"""VXLAN packets as the tour (scripts/tour.py) and the capture (scripts/capture.py)
read them, and the VNI of an overlay as the kernel holds it.

Pure standard library. Packets come from a `tcpdump -x` text dump
(hexdump_packets) or a classic pcap file (pcap_packets); both give the
outer IPv4 packet that decode_vxlan takes apart: outer IPv4/UDP, the VXLAN
header, the inner Ethernet and IPv4 header and, for ICMP, its type.
overlay_vni (demo_vni) reads an overlay's VNI on a node through a function
that runs a shell command there: the id of the one VXLAN device in the
overlay's namespace /var/run/docker/netns/<n>-<network id>, checked against
the network's option com.docker.network.driver.overlay.vxlanid_list where
Docker records one (swarm).
"""

import ipaddress
import json
import re
import struct

VXLAN_PORT = 4789
VNI_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
DOCKER_NETNS = "/var/run/docker/netns"
ICMP_TYPES = {0: "echo reply", 3: "destination unreachable", 5: "redirect", 8: "echo request",
              11: "time exceeded"}


# ------------------------------------------------------------------ tcpdump -x

def hexdump_packets(text):
    """The packets of a `tcpdump -x` dump, as bytes (from the IP header on)."""
    packets, current = [], None
    for line in text.splitlines():
        m = re.match(r"\s+0x([0-9a-f]{4}):\s+((?:[0-9a-f]{2,4}\s?)+)", line)
        if m:
            if int(m.group(1), 16) == 0 or current is None:
                current = bytearray()
                packets.append(current)
            current.extend(bytes.fromhex(m.group(2).replace(" ", "")))
        elif line.strip():
            current = None
    return [bytes(p) for p in packets]


def bpf_inner_source(address):
    """A tcpdump filter for VXLAN packets whose inner IPv4 source is ``address``:
    8 bytes UDP + 8 VXLAN + 14 inner Ethernet + 12 into the inner IP header."""
    return f"udp dst port {VXLAN_PORT} and udp[42:4] = 0x{int(ipaddress.IPv4Address(address)):08x}"


# ------------------------------------------------------------------ pcap

LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 1, 101, 113, 276
ETH_IPV4, ETH_VLAN = 0x0800, (0x8100, 0x88A8)
# magic as read little-endian -> (byte order, fraction of a second per tick)
PCAP_MAGIC = {0xA1B2C3D4: ("<", 1e-6), 0xA1B23C4D: ("<", 1e-9), 0xD4C3B2A1: (">", 1e-6), 0x4D3CB2A1: (">", 1e-9)}


def read_pcap(data):
    """(link type, [(time, frame)]) of a classic pcap file's bytes (either byte
    order, micro- or nanosecond timestamps). pcapng is refused."""
    if len(data) < 24:
        raise ValueError("not a pcap file: shorter than its 24-byte header")
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in PCAP_MAGIC:
        raise ValueError(f"not a classic pcap file (magic 0x{magic:08x}; pcapng is not read)")
    order, tick = PCAP_MAGIC[magic]
    linktype = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF  # high bits: FCS length
    records, at = [], 24
    while at + 16 <= len(data):
        sec, frac, caplen, _origlen = struct.unpack(order + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + caplen]
        if len(frame) < caplen:
            break  # the last record cut short (a capture stopped while writing)
        records.append((sec + frac * tick, frame))
        at += 16 + caplen
    return linktype, records


def ipv4_of_frame(linktype, frame):
    """The IPv4 packet a captured frame carries (its link header stripped), or None."""
    if linktype == LINKTYPE_ETHERNET:
        ethertype, at = int.from_bytes(frame[12:14], "big"), 14
        while ethertype in ETH_VLAN and len(frame) >= at + 4:
            ethertype, at = int.from_bytes(frame[at + 2:at + 4], "big"), at + 4
    elif linktype == LINKTYPE_LINUX_SLL:
        ethertype, at = int.from_bytes(frame[14:16], "big"), 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        ethertype, at = int.from_bytes(frame[0:2], "big"), 20
    elif linktype == LINKTYPE_RAW:
        ethertype, at = ETH_IPV4, 0
    else:
        raise ValueError(f"link type {linktype} is not read (Ethernet 1, Linux cooked 113 and 276, raw 101)")
    packet = frame[at:]
    return packet if ethertype == ETH_IPV4 and packet[:1] and packet[0] >> 4 == 4 else None


def pcap_packets(data):
    """[(time, IPv4 packet)] of a pcap file's bytes; frames that carry no IPv4 are left out."""
    linktype, records = read_pcap(data)
    return [(when, packet) for when, frame in records if (packet := ipv4_of_frame(linktype, frame)) is not None]


# ------------------------------------------------------------------ decoding

def decode_vxlan(packet):
    """Outer IPv4/UDP, the VXLAN header and the inner Ethernet/IPv4 (and ICMP type) of one packet."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        raise ValueError("not an IPv4 packet")
    ihl = (packet[0] & 0x0F) * 4
    if packet[9] != 17:
        raise ValueError(f"not UDP (protocol {packet[9]})")
    udp = packet[ihl:ihl + 8]
    vx = packet[ihl + 8:ihl + 16]
    eth = packet[ihl + 16:ihl + 30]
    inner = packet[ihl + 30:]
    if len(vx) < 8 or len(eth) < 14:
        raise ValueError("too short for VXLAN")
    out = {
        "src": str(ipaddress.IPv4Address(packet[12:16])), "dst": str(ipaddress.IPv4Address(packet[16:20])),
        "sport": int.from_bytes(udp[0:2], "big"), "dport": int.from_bytes(udp[2:4], "big"),
        "flags": vx[0], "vni": int.from_bytes(vx[4:7], "big"),
        "inner_dst_mac": ":".join(f"{b:02x}" for b in eth[0:6]),
        "inner_src_mac": ":".join(f"{b:02x}" for b in eth[6:12]),
        "inner_type": int.from_bytes(eth[12:14], "big"),
    }
    if out["inner_type"] == ETH_IPV4 and len(inner) >= 20:
        out.update(inner_src=str(ipaddress.IPv4Address(inner[12:16])),
                   inner_dst=str(ipaddress.IPv4Address(inner[16:20])), inner_proto=inner[9])
        inner_ihl = (inner[0] & 0x0F) * 4
        if inner[9] == 1 and len(inner) > inner_ihl:
            out["icmp_type"] = inner[inner_ihl]
    return out


def inner_summary(pkt):
    """The inner packet in a few words: `10.0.0.2 -> 10.0.0.3`, or its EtherType."""
    if "inner_src" in pkt:
        return f"{pkt['inner_src']} -> {pkt['inner_dst']}"
    return {0x0806: "ARP"}.get(pkt["inner_type"], f"EtherType 0x{pkt['inner_type']:04x}")


def icmp_summary(pkt):
    """`echo request (8)`, or `-` for a packet that is not ICMP."""
    if "icmp_type" not in pkt:
        return "-"
    return f"{ICMP_TYPES.get(pkt['icmp_type'], 'type')} ({pkt['icmp_type']})"


def decode_pcap(data):
    """One row per IPv4 packet of a pcap file: {time, packet (decode_vxlan's dict) or error}."""
    rows = []
    for when, packet in pcap_packets(data):
        try:
            rows.append({"time": when, "packet": decode_vxlan(packet), "error": None})
        except ValueError as exc:
            rows.append({"time": when, "packet": None, "error": str(exc)})
    return rows


# ------------------------------------------------------------------ the VNI on a node

class VniError(ValueError):
    """The overlay's VNI cannot be read on the node, or two sources disagree."""


def overlay_vni(run, network="demo"):
    """The VNI of ``network`` on a node, read from the kernel.

    run(cmd) runs the shell command cmd on the node and returns (rc, stdout).
    Returns {vni, namespace, device, option}: the id of the one VXLAN device
    in the overlay's namespace /var/run/docker/netns/<n>-<first 10 characters
    of the network id> (the namespace exists on a node while a container
    there is on the network), and the VNI Docker records in the network's
    options (swarm) or None; when both are there they must agree."""
    rc, out = run(f"docker network inspect -f '{{{{.Id}}}} {{{{json .Options}}}}' {network}")
    if rc != 0 or not out.strip():
        raise VniError(f"no network {network}")
    net_id, _sep, options = out.strip().partition(" ")
    listed = (json.loads(options or "null") or {}).get(VNI_OPTION)
    option = [int(v) for v in str(listed).split(",") if v.strip()] if listed else None
    _rc, out = run(f"ls {DOCKER_NETNS} | grep -E '^[0-9]+-{net_id[:10]}$'")
    found = out.split()
    if len(found) != 1:
        raise VniError(f"{len(found)} overlay namespaces of {network} ({net_id[:10]}) in {DOCKER_NETNS}: "
                       "one exists while a container on the node is on the network")
    namespace = f"{DOCKER_NETNS}/{found[0]}"
    rc, out = run(f"nsenter --net={namespace} ip -j -d link show type vxlan")
    devices = json.loads(out or "[]") if rc == 0 else []
    if len(devices) != 1:
        raise VniError(f"{len(devices)} VXLAN devices in {namespace}, not one")
    vni = devices[0]["linkinfo"]["info_data"]["id"]
    if option is not None and vni not in option:
        raise VniError(f"{network}: the kernel's {devices[0]['ifname']} has VNI {vni}, "
                       f"the network's {VNI_OPTION} says {listed}")
    return {"vni": vni, "namespace": namespace, "device": devices[0]["ifname"], "option": option}


def demo_vni(run, network="demo"):
    """The VNI of demo's VXLAN device (overlay_vni)."""
    return overlay_vni(run, network)["vni"]
