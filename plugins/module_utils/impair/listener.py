# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The queue backend's packet handler, for kernels without sch_netem: an
NFQUEUE listener that delays, drops and duplicates what an iptables rule
``-j NFQUEUE --queue-num N --queue-bypass`` hands it.

    python3 listener.py --config FILE --pidfile FILE --stats FILE
    config: {"queue": N, "delay_us": int, "jitter_us": int, "loss": percent,
             "duplicate": percent, "mark": int, "maxlen": 8192}

It binds queue N (whole packets, kernel queue length maxlen, fail-open) and
accepts each packet after delay + uniform(-jitter, +jitter), at least 0, in
order of release time (jitter reorders, as netem's does). A lost packet gets
NF_DROP at once (silent, like loss on a wire). A duplicated one is, at its
release, also sent again on a raw IPv4 socket with SO_MARK = mark, which the
chain's first rule lets pass. The pidfile is written once the queue is bound.
Stats JSON (atomic) every 0.5 s, at once on SIGUSR1 and on exit; counters go
on from an existing stats file. SIGTERM/SIGINT: accept every held packet,
write stats, remove the pidfile, exit 0. A start failure (config, queue
taken, no CAP_NET_ADMIN) exits 1 with one line on stderr.

Limits: standard library only, self-contained, python3 3.9+. On 2 cores:
30k packets/s at about half a core, 70k at a whole one; past that the kernel
queue fills and passes packets undelayed (fail-open), as it does when maxlen
packets wait. What sockets of the queueing namespace itself send is throttled
to about 1,150 packets/s (a held packet still counts against its socket): queue
traffic that crosses the namespace (containers' packets, or at the receiving
peer), not its own. Copies are IPv4 only. A SIGKILL loses the packets held at
that moment; after it the rule's bypass lets everything pass undelayed.
"""

import argparse
import errno
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

# linux/netlink.h, linux/netfilter/nfnetlink.h, linux/netfilter/nfnetlink_queue.h
NETLINK_NETFILTER, SOL_NETLINK, NETLINK_NO_ENOBUFS = 12, 270, 5
SO_RCVBUFFORCE, SO_MARK = 33, 36
NLMSG_ERROR, NLM_F_REQUEST, NLM_F_ACK = 2, 1, 4
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 3 << 8 | 0, 3 << 8 | 1, 3 << 8 | 2  # NFNL_SUBSYS_QUEUE << 8 | type
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQNL_CFG_CMD_BIND, NFQNL_COPY_PACKET, NFQA_CFG_F_FAIL_OPEN = 1, 2, 1
NF_DROP, NF_ACCEPT = 0, 1

COPY_RANGE = 0xFFFF  # the largest IP packet
BUFSIZE = COPY_RANGE + 4096  # one packet message with its headers
RCVBUF = 8 << 20
CONFIG_SEQ = 1
STATS_EVERY = 0.5
READ_BATCH = 256  # datagrams read before releasing what is due
COUNTERS = ("received", "accepted", "dropped", "duplicated", "overflow")
DEFAULTS = {"delay_us": 0, "jitter_us": 0, "loss": 0.0, "duplicate": 0.0, "mark": 0x4C41, "maxlen": 8192}


# ------------------------------------------------------------- the protocol

def attr(kind, data):
    """One netlink attribute, padded to 4 bytes."""
    size = 4 + len(data)
    return struct.pack("=HH", size, kind) + data + b"\0" * (-size % 4)


def nfq_message(msg_type, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    """nlmsghdr + nfgenmsg (family unspec, version 0, queue number big-endian) + attributes."""
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, 0) + body


def config_message(queue, maxlen):
    """Bind the queue, copy whole packets, kernel queue length maxlen, fail-open; asks for an ack."""
    return nfq_message(MSG_CONFIG, queue, [
        attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, socket.AF_INET)),
        attr(NFQA_CFG_PARAMS, struct.pack("!IB", COPY_RANGE, NFQNL_COPY_PACKET)),
        attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen)),
        attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)),
        attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)),
    ], flags=NLM_F_REQUEST | NLM_F_ACK, seq=CONFIG_SEQ)


def verdict_message(queue, packet_id, verdict):
    return nfq_message(MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id))])


def parse_messages(data):
    """(type, seq, body) of each netlink message in one datagram."""
    out, off = [], 0
    while off + 16 <= len(data):
        size, msg_type, _flags, seq, _port = struct.unpack_from("=IHHII", data, off)
        if size < 16 or off + size > len(data):
            break
        out.append((msg_type, seq, data[off + 16:off + size]))
        off += (size + 3) & ~3
    return out


def parse_attrs(data, off=0):
    """{type: payload} of the attributes from off on (the nested/byte-order flags masked)."""
    attrs = {}
    while off + 4 <= len(data):
        size, kind = struct.unpack_from("=HH", data, off)
        if size < 4:
            break
        attrs[kind & 0x3FFF] = data[off + 4:off + size]
        off += (size + 3) & ~3
    return attrs


def parse_packet(body):
    """(packet id, IP packet) of a packet message's body; past the 4-byte nfgenmsg."""
    attrs = parse_attrs(body, 4)
    return struct.unpack_from("!I", attrs[NFQA_PACKET_HDR])[0], attrs.get(NFQA_PAYLOAD, b"")


def parse_error(body):
    """The errno of an NLMSG_ERROR body; 0 is an ack."""
    return -struct.unpack_from("=i", body)[0]


# ------------------------------------------------------ the impairment, pure

class Scheduler:
    """Which packets are lost, when each held one is released, which get a copy; the counters."""

    def __init__(self, cfg, rng=None, counters=None):
        self.delay, self.jitter = cfg["delay_us"] / 1e6, cfg["jitter_us"] / 1e6
        self.loss, self.duplicate, self.maxlen = cfg["loss"], cfg["duplicate"], cfg["maxlen"]
        self.rng = rng or random.Random()
        self.held = []  # heap of (release time, arrival number, packet id, packet to copy or None)
        self.arrivals = 0
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.counters.update(counters or {})

    def admit(self, now, packet_id, packet):
        """A packet from the queue: NF_DROP (lost), NF_ACCEPT (the hold is full) or None (held)."""
        self.counters["received"] += 1
        if self.loss and self.rng.random() * 100 < self.loss:
            self.counters["dropped"] += 1
            return NF_DROP
        if len(self.held) >= self.maxlen:
            self.counters["accepted"] += 1
            self.counters["overflow"] += 1
            return NF_ACCEPT
        copy = packet if self.duplicate and self.rng.random() * 100 < self.duplicate else None
        delay = max(0.0, self.delay + self.rng.uniform(-self.jitter, self.jitter)) if self.jitter else self.delay
        self.arrivals += 1
        heapq.heappush(self.held, (now + delay, self.arrivals, packet_id, copy))
        return None

    def due(self, now):
        """Pop what is due at now, in release order (ties: arrival order): [(packet id, copy or None)]."""
        out = []
        while self.held and self.held[0][0] <= now:
            out.append(heapq.heappop(self.held)[2:])
        self.counters["accepted"] += len(out)
        return out

    def next_release(self):
        return self.held[0][0] if self.held else None

    def stats(self, queue):
        return dict(pid=os.getpid(), queue=queue, **self.counters, held=len(self.held))


def load_config(path):
    """The config file, defaults filled in; ValueError naming a wrong key."""
    with open(path) as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or "queue" not in data:
        raise ValueError('needs "queue"')
    cfg = dict(DEFAULTS, **data)
    limits = {"queue": (0, 65535), "delay_us": (0, None), "jitter_us": (0, None), "mark": (0, 2**32 - 1),
              "maxlen": (1, 2**32 - 1), "loss": (0, 100), "duplicate": (0, 100)}
    for key, (low, high) in limits.items():
        value, kind = cfg[key], (int, float) if key in ("loss", "duplicate") else int
        if isinstance(value, bool) or not isinstance(value, kind) or value < low or (high and value > high):
            raise ValueError(f"{key}: {value!r} is not a number in [{low}, {high or 'inf'}]")
    return cfg


def load_counters(path):
    """The counters of an existing stats file (a new listener goes on from them), else none."""
    try:
        with open(path) as fh:
            data = json.load(fh)
        return {k: data[k] for k in COUNTERS if isinstance(data.get(k), int) and data[k] >= 0}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def write_atomic(path, text):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


# ------------------------------------------------------------------- the I/O

class Listener:
    """The netlink socket, the raw socket for copies and the loop between them."""

    def __init__(self, cfg, scheduler):
        self.queue, self.sched, self.cfg = cfg["queue"], scheduler, cfg
        self.sock = self.raw = None
        self.verdicts, self.copies = [], []

    def open(self):
        """Bind the queue; OSError (errno of the kernel's answer) when it refuses."""
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:  # without CAP_NET_ADMIN: up to net.core.rmem_max
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.sock.bind((0, 0))
        if self.cfg["duplicate"]:
            self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self.raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            self.raw.setsockopt(socket.SOL_SOCKET, SO_MARK, self.cfg["mark"])
        self.sock.settimeout(5)
        self.sock.send(config_message(self.queue, self.cfg["maxlen"]))
        for _round in range(10000):  # packets may come before the ack: they are handled as usual
            for msg_type, seq, body in parse_messages(self.sock.recv(BUFSIZE)):
                if msg_type == NLMSG_ERROR and seq == CONFIG_SEQ:
                    if parse_error(body):
                        raise OSError(parse_error(body), os.strerror(parse_error(body)))
                    self.sock.setblocking(False)
                    return
                self.handle(msg_type, body)
        raise OSError(errno.ETIMEDOUT, "no answer to the bind")

    def handle(self, msg_type, body):
        if msg_type == MSG_PACKET:  # errors (e.g. a verdict for a packet gone) are ignored
            packet_id, packet = parse_packet(body)
            verdict = self.sched.admit(time.monotonic(), packet_id, packet)
            if verdict is not None:
                self.verdicts.append(verdict_message(self.queue, packet_id, verdict))

    def read(self):
        for _round in range(READ_BATCH):
            try:
                data = self.sock.recv(BUFSIZE)
            except (BlockingIOError, InterruptedError):
                break
            for msg_type, _seq, body in parse_messages(data):
                self.handle(msg_type, body)
        self.release(time.monotonic())

    def release(self, now):
        """Accept what is due, then send its copies; many verdicts go in one datagram."""
        for packet_id, copy in self.sched.due(now):
            self.verdicts.append(verdict_message(self.queue, packet_id, NF_ACCEPT))
            if copy is not None:
                self.copies.append(copy)
        for i in range(0, len(self.verdicts), 2048):
            self.sock.send(b"".join(self.verdicts[i:i + 2048]))
        for copy in self.copies:
            if len(copy) >= 20 and copy[0] >> 4 == 4:
                try:
                    self.raw.sendto(copy, (socket.inet_ntoa(copy[16:20]), 0))
                    self.sched.counters["duplicated"] += 1
                except OSError:  # e.g. no route, larger than the MTU: the copy is lost
                    pass
        self.verdicts, self.copies = [], []

    def run(self, wakeup, write_stats):
        """Until SIGTERM/SIGINT (their numbers come through the wakeup pipe)."""
        next_stats = 0.0
        while True:
            now = time.monotonic()
            self.release(now)
            if now >= next_stats:
                write_stats()
                next_stats = now + STATS_EVERY
            until = min(next_stats, self.sched.next_release() or next_stats)
            ready = select.select([self.sock, wakeup], [], [], max(0.0, until - time.monotonic()))[0]
            if wakeup in ready:
                signals = os.read(wakeup, 64)
                if signal.SIGTERM in signals or signal.SIGINT in signals:
                    return
                if signal.SIGUSR1 in signals:
                    next_stats = 0.0
            if self.sock in ready:
                self.read()

    def close(self):
        """Accept everything held and what is still in the socket; unbinding is closing."""
        self.read()
        self.release(float("inf"))
        self.sock.close()


def why(exc, queue):
    """A bind failure in words: the kernel answers EPERM both for a taken queue and for no permission."""
    if exc.errno != errno.EPERM:
        return exc.strerror or str(exc)
    try:
        with open("/proc/net/netfilter/nfnetlink_queue") as fh:
            owner = [line.split()[1] for line in fh if line.split()[:1] == [str(queue)]]
    except OSError:
        owner = []
    if owner:
        return f"the queue is taken (by netlink port {owner[0]}, usually a process id)"
    return "operation not permitted (needs root: CAP_NET_ADMIN)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    for name in ("--config", "--pidfile", "--stats"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"impair listener: config {args.config}: {exc}\n")
        return 1
    sched = Scheduler(cfg, counters=load_counters(args.stats))
    listener = Listener(cfg, sched)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, lambda *_: None)  # the number reaches the loop through the pipe
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    try:
        listener.open()
    except OSError as exc:
        sys.stderr.write(f"impair listener: cannot bind nfnetlink queue {cfg['queue']}: {why(exc, cfg['queue'])}\n")
        return 1
    for path in (args.pidfile, args.stats):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomic(args.pidfile, f"{os.getpid()}\n")

    def save_stats():
        try:
            write_atomic(args.stats, json.dumps(sched.stats(cfg["queue"])) + "\n")
        except OSError:  # e.g. a full /run: the next write tries again
            pass

    try:
        listener.run(wake_r, save_stats)
    finally:
        listener.close()
        save_stats()
        try:
            os.unlink(args.pidfile)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
