"""The queue backend's NFQUEUE listener on real namespaces, as root, in seconds.

Three namespaces a - r - b, r forwarding: the rule queues what r sends out
toward b (so the sender's packets come from another namespace, as a container's
do, and are not throttled), its first rule lets the listener's marked copies
pass. A UDP echo in b answers a probe in a; only the a -> b direction is
impaired, so what the probe measures is what the listener did. No ping needed.
"""

import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import time

import pytest
from labkit import retry, routed_namespaces, sh, udp_echo

ROOT = pathlib.Path(__file__).resolve().parents[2]
LISTENER = ROOT / "plugins" / "module_utils" / "impair" / "listener.py"
MODULE = "ansible_collections.lab.multihost.plugins.module_utils.impair.listener"
PYTHON = shutil.which("python3") or sys.executable
QUEUE, MARK, PORT = 100, 0x4C41, 9000
A, B = "10.77.1.1", "10.77.2.1"

ECHO = udp_echo(PORT)

# argv: destination, count, interval (s), wait after the last (s). Prints the
# RTT (ms) of each probe's first answer and how many answers came in all.
PROBE = f"""
import json, select, socket, struct, sys, time
dst, count, interval, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent, rtts, answers, seq = {{}}, {{}}, 0, 0
start = time.monotonic()
end = start + count * interval + wait
while True:
    now = time.monotonic()
    if seq < count and now >= start + seq * interval:
        sent[seq] = now
        s.sendto(struct.pack("!I", seq) + bytes(60), (dst, {PORT}))
        seq += 1
        continue
    if now >= end:
        break
    until = start + seq * interval if seq < count else end
    if select.select([s], [], [], max(0.0, until - now))[0]:
        n = struct.unpack("!I", s.recv(2048)[:4])[0]
        answers += 1
        rtts.setdefault(n, (time.monotonic() - sent[n]) * 1000)
print(json.dumps({{"sent": count, "rtts": list(rtts.values()), "answers": answers}}))
"""


class Lab:
    def __init__(self, prefix, tmp_path):
        self.a, self.r, self.b = prefix + "a", prefix + "r", prefix + "b"
        self.tmp = tmp_path
        self.procs = []

    def build(self):
        routed_namespaces(self.a, self.r, self.b, "10.77.1", "10.77.2")
        for rule in (["-m", "mark", "--mark", hex(MARK), "-j", "RETURN"],
                     ["-j", "NFQUEUE", "--queue-num", str(QUEUE), "--queue-bypass"]):
            sh("ip", "netns", "exec", self.r, "iptables", "-w", "-t", "mangle", "-A", "POSTROUTING", "-o", "rb", *rule)
        self.spawn(self.b, [PYTHON, "-c", ECHO])
        assert retry(lambda: self.probe(1, 0.01, 0.3)["answers"], attempts=30, delay=0.1), "the echo never answered"

    def spawn(self, ns, argv, **kw):
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], start_new_session=True,
                                stdout=subprocess.DEVNULL, **kw)
        self.procs.append(proc)
        return proc

    def probe(self, count, interval, wait):
        out = sh("ip", "netns", "exec", self.a, PYTHON, "-c", PROBE, B, str(count), str(interval), str(wait)).stdout
        return json.loads(out)

    def files(self, name="l"):
        return {k: self.tmp / f"{name}.{k}" for k in ("config", "pidfile", "stats", "stderr")}

    def start(self, name="l", module=False, expect_bound=True, **cfg):
        """The listener in r, as the engine starts it; waits for its pidfile (bounded)."""
        f = self.files(name)
        f["config"].write_text(json.dumps(dict({"queue": QUEUE, "delay_us": 0, "jitter_us": 0, "loss": 0,
                                                "duplicate": 0, "mark": MARK, "maxlen": 8192}, **cfg)))
        run = ["-m", MODULE] if module else [str(LISTENER)]
        env = dict(os.environ, PYTHONPATH=str(ROOT / ".cache" / "collections")) if module else None
        began = time.monotonic()
        with open(f["stderr"], "w") as err:
            proc = self.spawn(self.r, [PYTHON, *run, *(f"--{k}={f[k]}" for k in ("config", "pidfile", "stats"))],
                              stderr=err, env=env)
        for _attempt in range(100):
            if f["pidfile"].exists() or proc.poll() is not None:
                break
            time.sleep(0.02)
        proc.startup = time.monotonic() - began
        proc.files = f
        if expect_bound:
            assert f["pidfile"].read_text().strip() == str(proc.pid), f["stderr"].read_text()
        return proc

    def stop(self, proc, sig=signal.SIGTERM):
        proc.send_signal(sig)
        return proc.wait(timeout=5)

    def stats(self, proc):
        return json.loads(proc.files["stats"].read_text())

    def queues(self):
        """Lines of r's /proc/net/netfilter/nfnetlink_queue: queue, portid, length, copy mode, range, drops..."""
        return sh("ip", "netns", "exec", self.r, "cat", "/proc/net/netfilter/nfnetlink_queue").stdout.split("\n")[:-1]

    def teardown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def lab(prefix, tmp_path):
    lab = Lab(prefix, tmp_path)
    try:
        lab.build()
        yield lab
    finally:
        lab.teardown()


def _lost(res):
    return res["sent"] - len(res["rtts"])


def test_delay_adds_the_delay_and_sigterm_leaves_counts_and_no_pidfile(lab):
    base = statistics.median(lab.probe(20, 0.01, 0.2)["rtts"])
    listener = lab.start(delay_us=50000)
    res = lab.probe(40, 0.02, 0.3)
    added = statistics.median(res["rtts"]) - base
    print(f"start to pidfile {listener.startup * 1000:.0f} ms; base RTT {base:.2f} ms, 50 ms delay adds {added:.2f} "
          f"ms (sd {statistics.pstdev(res['rtts']):.2f})")
    assert 45 <= added <= 60 and _lost(res) == 0, res
    assert len(lab.queues()) == 1 and lab.queues()[0].split()[:2] == [str(QUEUE), str(listener.pid)]
    assert lab.stop(listener) == 0
    stats = lab.stats(listener)
    assert not listener.files["pidfile"].exists()
    assert stats["pid"] == listener.pid and stats["queue"] == QUEUE and stats["held"] == 0
    assert stats["received"] == stats["accepted"] == 40 and stats["dropped"] == stats["duplicated"] == 0, stats
    assert lab.queues() == []


def test_jitter_spreads_the_delay(lab):
    lab.start(delay_us=50000, jitter_us=10000)
    rtts = lab.probe(150, 0.01, 0.3)["rtts"]
    sd = statistics.pstdev(rtts)
    print(f"50 ms +- 10 ms: RTT mean {statistics.mean(rtts):.1f} ms, sd {sd:.2f} ms (uniform: 5.77)")
    cuts = statistics.quantiles(rtts, n=20)  # from the 5th to the 95th percentile: 18 ms of the uniform 20
    # A busy CPU (the lab's containers beside the test) shifts them all a little: the spread is what counts.
    assert len(rtts) == 150 and 4 <= sd <= 8 and 14 <= cuts[-1] - cuts[0] <= 22, rtts
    assert 45 <= statistics.median(rtts) <= 56, rtts


def test_loss_drops_about_the_asked_share_silently(lab):
    listener = lab.start(loss=20.0)
    res = lab.probe(300, 0.004, 0.3)
    print(f"loss 20 %: {_lost(res) / 3:.1f} % of 300 lost")
    assert 30 <= _lost(res) <= 90 and res["answers"] == len(res["rtts"]), res
    assert lab.stop(listener) == 0
    stats = lab.stats(listener)
    assert stats["dropped"] == _lost(res) and stats["received"] == 300 and stats["accepted"] == 300 - _lost(res)


def test_duplicate_reaches_the_receiver_twice(lab):
    listener = lab.start(duplicate=20.0)
    res = lab.probe(300, 0.004, 0.3)
    dups = res["answers"] - len(res["rtts"])
    print(f"duplicate 20 %: {dups / 3:.1f} % of 300 answered twice")
    assert _lost(res) == 0 and 30 <= dups <= 90, res
    assert lab.stop(listener) == 0
    assert lab.stats(listener)["duplicated"] == dups


def test_sigkill_leaves_traffic_flowing_through_the_bypass(lab):
    listener = lab.start(delay_us=50000)
    assert statistics.median(lab.probe(5, 0.02, 0.3)["rtts"]) >= 45
    lab.stop(listener, signal.SIGKILL)
    res = lab.probe(20, 0.01, 0.3)
    assert _lost(res) == 0 and statistics.median(res["rtts"]) < 10 and lab.queues() == [], res


def test_counters_continue_and_module_form_runs(lab):
    first = lab.start(module=True)
    lab.probe(10, 0.005, 0.2)
    assert lab.stop(first) == 0 and lab.stats(first)["received"] == 10
    second = lab.start(loss=100.0)
    assert lab.probe(10, 0.005, 0.2)["answers"] == 0
    second.send_signal(signal.SIGUSR1)
    assert retry(lambda: lab.stats(second)["pid"] == second.pid and lab.stats(second)["dropped"] == 10,
                 attempts=20, delay=0.05)
    assert lab.stop(second) == 0
    assert {k: lab.stats(second)[k] for k in ("received", "accepted", "dropped")} == {
        "received": 20, "accepted": 10, "dropped": 10}


def test_queue_taken_fails_with_one_line(lab):
    lab.start()
    other = lab.start(name="other", expect_bound=False)
    assert other.wait(timeout=5) == 1 and not other.files["pidfile"].exists()
    err = other.files["stderr"].read_text()
    assert err.count("\n") == 1 and f"queue {QUEUE}: the queue is taken" in err, err


def test_hold_is_bounded_by_maxlen_and_the_rest_passes(lab):
    listener = lab.start(delay_us=300000, maxlen=8)
    res = lab.probe(60, 0.0005, 0.5)
    slow = [r for r in res["rtts"] if r >= 250]
    assert _lost(res) == 0 and 1 <= len(slow) <= 8, res
    assert lab.stop(listener) == 0
    stats = lab.stats(listener)
    assert stats["received"] == len(slow) + stats["overflow"], stats
