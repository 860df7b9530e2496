"""The NFQUEUE listener without a kernel: its netlink messages byte by byte, the
impairment decisions with a seeded RNG, the release order, the bound on what it
holds, and its stats and config files."""

import json
import random
import socket
import statistics
import struct

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.impair import listener as L

CFG = dict(L.DEFAULTS, queue=100)


def _sched(seed=1, **cfg):
    return L.Scheduler(dict(CFG, **cfg), rng=random.Random(seed))


def _ip(dst="10.0.0.2", size=29):
    """An IPv4 header to dst and a body: the listener looks at the version and the destination only."""
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, size, 1, 0, 64, 17, 0, socket.inet_aton("10.0.0.1"),
                       socket.inet_aton(dst))
    return head + bytes(size - len(head))


def _packet_message(packet_id, payload, queue=100):
    """A packet message as the kernel sends it (extra attributes, one with the nested flag)."""
    body = (struct.pack("!BBH", socket.AF_INET, 0, queue)
            + L.attr(L.NFQA_PACKET_HDR, struct.pack("!IHB", packet_id, 0x0800, 4))
            + L.attr(3, struct.pack("!I", 0x4C41))  # NFQA_MARK
            + L.attr(11 | 0x8000, L.attr(1, b"\1\2\3\4"))  # NFQA_CT, nested
            + L.attr(L.NFQA_PAYLOAD, payload))
    return struct.pack("=IHHII", 16 + len(body), L.MSG_PACKET, 0, 0, 0) + body


# ------------------------------------------------------------ messages

def test_config_binds_the_queue_copies_whole_packets_sets_maxlen_and_fail_open_and_asks_an_ack():
    msg = L.config_message(100, 8192)
    size, msg_type, flags, seq, port = struct.unpack_from("=IHHII", msg)
    assert (size, msg_type, flags, seq, port) == (len(msg), 3 << 8 | 2, 1 | 4, 1, 0) and size % 4 == 0
    assert msg[16:20] == b"\x00\x00\x00\x64"  # nfgenmsg: AF_UNSPEC, version 0, queue 100 big-endian
    attrs = L.parse_attrs(msg, 20)
    assert attrs == {1: b"\x01\x00\x00\x02",  # bind, pad, AF_INET
                     2: b"\x00\x00\xff\xff\x02",  # copy range 65535, NFQNL_COPY_PACKET (5 bytes, then padding)
                     3: struct.pack("!I", 8192), 4: struct.pack("!I", 1), 5: struct.pack("!I", 1)}


def test_verdict_message_is_byte_exact():
    assert L.verdict_message(7, 0x01020304, L.NF_ACCEPT) == (
        struct.pack("=IHHII", 32, 3 << 8 | 1, 1, 0, 0) + b"\x00\x00\x00\x07"
        + struct.pack("=HH", 12, 2) + b"\x00\x00\x00\x01\x01\x02\x03\x04")
    assert L.verdict_message(7, 9, L.NF_DROP)[-8:] == b"\x00\x00\x00\x00\x00\x00\x00\x09"


def test_packet_messages_of_one_datagram_give_ids_and_packets_past_other_attributes():
    first, second = _ip(size=29), _ip("10.0.0.3", size=64)
    messages = L.parse_messages(_packet_message(5, first) + _packet_message(6, second))
    assert [(t, s) for t, s, _b in messages] == [(L.MSG_PACKET, 0), (L.MSG_PACKET, 0)]
    assert [L.parse_packet(body) for _t, _s, body in messages] == [(5, first), (6, second)]


def test_a_truncated_datagram_yields_the_whole_messages_only():
    data = _packet_message(5, _ip()) + _packet_message(6, _ip())
    assert len(L.parse_messages(data[:-3])) == 1
    assert L.parse_messages(b"\x00" * 20) == []  # a length below the header's: nothing, no endless loop


def test_error_message_gives_the_errno_and_zero_is_an_ack():
    original = L.config_message(100, 8192)[:16]
    assert L.parse_error(struct.pack("=i", -1) + original) == 1  # EPERM: taken, or no CAP_NET_ADMIN
    assert L.parse_error(struct.pack("=i", 0) + original) == 0


# ---------------------------------------------------------- scheduling

def test_packets_are_held_for_the_delay_and_released_in_order():
    s = _sched(delay_us=50000)
    for i, now in enumerate((0.0, 0.001, 0.002)):
        assert s.admit(now, i, _ip()) is None
    assert s.next_release() == pytest.approx(0.05) and s.due(0.0499) == []
    assert s.due(0.0505) == [(0, None)]
    assert s.due(1.0) == [(1, None), (2, None)] and s.next_release() is None
    assert s.counters == {"received": 3, "accepted": 3, "dropped": 0, "duplicated": 0, "overflow": 0}


def test_no_delay_releases_at_once_in_arrival_order():
    s = _sched()
    for i in range(5):
        s.admit(1.0, i, _ip())
    assert [p for p, _c in s.due(1.0)] == [0, 1, 2, 3, 4]


def test_jitter_is_uniform_around_the_delay_and_release_follows_release_time():
    s = _sched(delay_us=10000, jitter_us=5000, maxlen=10**6)
    for i in range(10000):
        s.admit(0.0, i, _ip())
    times = sorted(t for t, *_rest in s.held)
    assert 0.005 <= times[0] and times[-1] <= 0.015
    assert statistics.mean(times) == pytest.approx(0.010, abs=0.0002)
    assert statistics.pstdev(times) == pytest.approx(0.005 / 3 ** 0.5, rel=0.03)
    by_id = {p: t for t, _n, p, _c in s.held}
    released = [p for p, _c in s.due(1.0)]
    assert [by_id[p] for p in released] == times  # jitter reorders: release time decides


def test_jitter_larger_than_the_delay_is_clamped_at_zero():
    s = _sched(delay_us=1000, jitter_us=5000)
    for i in range(1000):
        s.admit(2.0, i, _ip())
    waits = [t - 2.0 for t, *_rest in s.held]
    assert min(waits) == 0.0 and max(waits) <= 0.006
    assert 0.3 < waits.count(0.0) / 1000 < 0.5  # P(uniform(-5, 5) < -1) = 0.4


@pytest.mark.parametrize("loss", [0.0, 0.5, 20.0, 100.0])
def test_loss_drops_the_share_asked_at_once(loss):
    s = _sched(seed=7, loss=loss, delay_us=50000, maxlen=10**6)
    verdicts = [s.admit(0.0, i, _ip()) for i in range(20000)]
    share = 100 * verdicts.count(L.NF_DROP) / 20000
    assert share == pytest.approx(loss, abs=max(0.2, loss * 0.05))
    assert set(verdicts) <= {None, L.NF_DROP} and s.counters["dropped"] == verdicts.count(L.NF_DROP)
    assert len(s.held) == verdicts.count(None) and s.counters["received"] == 20000


@pytest.mark.parametrize("dup", [0.0, 20.0, 100.0])
def test_duplicate_marks_the_share_asked_with_the_packet_to_copy(dup):
    s = _sched(seed=3, duplicate=dup, maxlen=10**6)
    packets = [_ip(f"10.0.{i % 250}.{i % 7 + 1}") for i in range(10000)]
    for i, packet in enumerate(packets):
        s.admit(0.0, i, packet)
    released = s.due(0.0)
    copies = [(p, c) for p, c in released if c is not None]
    assert 100 * len(copies) / 10000 == pytest.approx(dup, abs=1.0)
    assert all(c is packets[p] for p, c in copies)
    assert s.counters["duplicated"] == 0  # counted when a copy is sent


def test_the_same_seed_decides_the_same():
    def run(seed):
        s = _sched(seed, delay_us=1000, jitter_us=900, loss=10, duplicate=10)
        return [s.admit(0.0, i, _ip()) for i in range(500)], s.due(1.0)

    assert run(11) == run(11) and run(11) != run(12)


def test_never_more_than_maxlen_held_the_rest_accepted_at_once_and_counted():
    s = _sched(delay_us=50000, maxlen=3)
    assert [s.admit(0.0, i, _ip()) for i in range(5)] == [None, None, None, L.NF_ACCEPT, L.NF_ACCEPT]
    assert len(s.held) == 3 and s.counters["overflow"] == 2 and s.counters["accepted"] == 2
    s.due(1.0)
    assert s.admit(1.0, 5, _ip()) is None and s.counters["accepted"] == 5


# ------------------------------------------------------ I/O seams, faked

class FakeSock:
    def __init__(self, fail=False):
        self.sent, self.fail = [], fail

    def send(self, data):
        self.sent.append(data)

    def sendto(self, data, addr):
        if self.fail:
            raise OSError(101, "Network is unreachable")
        self.sent.append((data, addr))


def _listener(**cfg):
    sched = _sched(**cfg)
    lst = L.Listener(dict(CFG, **cfg), sched)
    lst.sock, lst.raw = FakeSock(), FakeSock()
    return lst, sched


def test_release_sends_the_verdicts_in_one_datagram_then_the_copies_to_their_destination():
    lst, sched = _listener(duplicate=100.0)
    for i, dst in enumerate(("10.0.0.2", "10.0.0.3")):
        lst.handle(L.MSG_PACKET, _packet_message(40 + i, _ip(dst))[16:])
    lst.release(float("inf"))  # handle() holds with the clock's now
    assert lst.sock.sent == [L.verdict_message(100, 40, L.NF_ACCEPT) + L.verdict_message(100, 41, L.NF_ACCEPT)]
    assert lst.raw.sent == [(_ip("10.0.0.2"), ("10.0.0.2", 0)), (_ip("10.0.0.3"), ("10.0.0.3", 0))]
    assert sched.counters["duplicated"] == 2 and lst.verdicts == lst.copies == []


def test_a_lost_packet_gets_its_drop_verdict_with_the_next_release_and_a_failed_copy_is_not_counted():
    lst, sched = _listener(loss=100.0)
    lst.handle(L.MSG_PACKET, _packet_message(9, _ip())[16:])
    lst.handle(L.NLMSG_ERROR, struct.pack("=i", -2) + bytes(16))  # a verdict's error: ignored
    lst.release(0.0)
    assert lst.sock.sent == [L.verdict_message(100, 9, L.NF_DROP)]
    lst, sched = _listener(duplicate=100.0)
    lst.raw = FakeSock(fail=True)
    lst.handle(L.MSG_PACKET, _packet_message(1, _ip())[16:])
    lst.release(float("inf"))
    assert sched.counters["duplicated"] == 0 and len(lst.sock.sent) == 1


# ------------------------------------------------------------- files

def test_counters_continue_from_a_stats_file_and_stats_have_the_agreed_keys(tmp_path):
    stats = tmp_path / "x.stats"
    stats.write_text(json.dumps({"pid": 1, "queue": 100, "received": 10, "accepted": 7, "dropped": 3,
                                 "duplicated": 2, "held": 4}))
    s = L.Scheduler(CFG, counters=L.load_counters(str(stats)))
    s.admit(0.0, 1, _ip())
    got = s.stats(100)
    assert list(got) == ["pid", "queue", "received", "accepted", "dropped", "duplicated", "overflow", "held"]
    assert got["received"] == 11 and got["dropped"] == 3 and got["duplicated"] == 2 and got["held"] == 1


@pytest.mark.parametrize("text", [None, "", "{", "[1]", '{"received": -4, "dropped": "3"}'])
def test_a_missing_or_broken_stats_file_starts_from_zero(tmp_path, text):
    stats = tmp_path / "x.stats"
    if text is not None:
        stats.write_text(text)
    assert L.load_counters(str(stats)) == {}


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    L.write_atomic(str(tmp_path / "a.stats"), "{}\n")
    L.write_atomic(str(tmp_path / "a.stats"), '{"received": 1}\n')
    assert [p.name for p in tmp_path.iterdir()] == ["a.stats"] and "1" in (tmp_path / "a.stats").read_text()


def test_config_fills_defaults(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"queue": 101, "loss": 1}')
    assert L.load_config(str(path)) == dict(L.DEFAULTS, queue=101, loss=1)


@pytest.mark.parametrize("cfg, key", [({}, "queue"), ({"queue": 70000}, "queue"), ({"queue": 1, "loss": 101}, "loss"),
                                      ({"queue": 1, "delay_us": "50ms"}, "delay_us"),
                                      ({"queue": 1, "maxlen": 0}, "maxlen"), ({"queue": True}, "queue")])
def test_a_wrong_config_names_the_key(tmp_path, cfg, key):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=key):
        L.load_config(str(path))


def test_a_wrong_config_exits_1_with_one_line(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text('{"queue": 1, "duplicate": -1}')
    assert L.main(["--config", str(path), "--pidfile", str(tmp_path / "p"), "--stats", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "duplicate" in err and not (tmp_path / "p").exists()
