"""The tour's pure parts (scripts/tour.py; its decoder is scripts/vxlan.py,
shared with scripts/capture.py): tcpdump hex dumps, the VXLAN header, the
app's answer, and how a failed claim stops the tour and still cleans up.
fixtures/tcpdump_vxlan.txt was captured passively on this machine's bridge
of the lab network (tcpdump -n -c 2 -x 'udp dst port 4789'): app on
docker-node1 and redis on docker-node2 over demo."""

import io
import pathlib

import pytest
import tour
import vxlan

DUMP = (pathlib.Path(__file__).parent / "fixtures" / "tcpdump_vxlan.txt").read_text()


def test_hexdump_gives_each_packet():
    packets = vxlan.hexdump_packets(DUMP)
    assert len(packets) == 2
    assert [len(p) for p in packets] == [0x74, 0x6D]  # the outer IPv4 total lengths in the dump


def test_decode_vxlan_agrees_with_tcpdumps_own_decoding():
    first, second = (vxlan.decode_vxlan(p) for p in vxlan.hexdump_packets(DUMP))
    # tcpdump printed: IP 192.168.205.10.55874 > 192.168.205.11.4789: VXLAN, flags [I] (0x08), vni 256
    assert (first["src"], first["sport"], first["dst"], first["dport"]) == ("192.168.205.10", 55874,
                                                                            "192.168.205.11", 4789)
    assert (first["flags"], first["vni"]) == (0x08, 256)
    # ... IP 10.0.0.251.48248 > 10.0.0.250.6379 (app to redis), TCP inside
    assert (first["inner_src"], first["inner_dst"], first["inner_proto"]) == ("10.0.0.251", "10.0.0.250", 6)
    assert (first["inner_src_mac"], first["inner_dst_mac"]) == ("02:42:0a:00:00:fb", "02:42:0a:00:00:fa")
    assert (second["src"], second["dst"], second["vni"]) == ("192.168.205.11", "192.168.205.10", 256)
    assert (second["inner_src"], second["inner_dst"]) == ("10.0.0.250", "10.0.0.251")


def test_decode_refuses_what_is_not_vxlan_over_udp():
    packet = bytearray(vxlan.hexdump_packets(DUMP)[0])
    packet[9] = 6
    with pytest.raises(ValueError, match="not UDP"):
        vxlan.decode_vxlan(bytes(packet))
    with pytest.raises(ValueError):
        vxlan.decode_vxlan(b"\x60" + bytes(40))


def test_bpf_filter_matches_the_inner_source_offset():
    packet = vxlan.hexdump_packets(DUMP)[0]
    udp = packet[(packet[0] & 0x0F) * 4:]
    flt = vxlan.bpf_inner_source("10.0.0.251")
    assert flt == "udp dst port 4789 and udp[42:4] = 0x0a0000fb"
    assert udp[42:46] == bytes.fromhex(flt.rsplit("0x", 1)[1])


@pytest.mark.parametrize("body,parsed", [
    ("Hello Container World! I have been seen 7 times and my hostname is 3f2a9c1d7e4b.\n", (7, "3f2a9c1d7e4b")),
    ("Hello Container World! I have been seen 1 times and my hostname is ab.", (1, "ab")),
    ("Internal Server Error", None),
    ("", None),
])
def test_app_answer(body, parsed):
    assert tour.parse_app_answer(body) == parsed


def test_brief_shows_ip_json_like_ip_br():
    text = ('[{"ifindex":1,"ifname":"lo","mtu":65536,'
            '"addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},'
            '{"ifindex":8,"link_index":9,"ifname":"eth0","mtu":1450,"master":"br0","addr_info":['
            '{"family":"inet","local":"10.0.0.2","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]}]')
    assert tour.brief(text).splitlines() == ["1: lo mtu 65536 127.0.0.1/8",
                                             "8: eth0@if9 mtu 1450 master br0 10.0.0.2/24"]


class _Inventory:
    addresses = {"n1": "192.0.2.10", "n2": "192.0.2.11"}

    def group(self, name):
        return ["n1"]


def test_a_failed_claim_names_its_step_and_cleanup_still_runs(monkeypatch):
    out = io.StringIO()
    t = tour.Tour(_Inventory(), "tourabc123", out=out)
    cleaned = []

    def first(self):
        self.claim("the first claim", True)

    def second(self):
        self.claim("two and two make five", False)

    def never(self):
        raise AssertionError("a step after a failure ran")

    monkeypatch.setattr(tour.Tour, "STEPS", [("one", first), ("two", second), ("three", never)])
    monkeypatch.setattr(tour.Tour, "cleanup", lambda self: cleaned.append(True) or [])
    assert t.run() == 1 and cleaned
    text = out.getvalue()
    assert "claim: two and two make five: DOES NOT HOLD" in text
    assert text.rstrip().endswith("tour: FAILED at step 2 (two): two and two make five")


def test_leftovers_fail_the_tour(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(tour.Tour, "STEPS", [])
    monkeypatch.setattr(tour.Tour, "cleanup", lambda self: ["n1: tourabc123-c1"])
    assert tour.Tour(_Inventory(), "tourabc123", out=out).run() == 1
    assert "left behind: n1: tourabc123-c1" in out.getvalue()
