"""Catch VXLAN packets of the overlay demo on a node and decode them (make capture).

On NODE (default: the inventory's first node) a container on demo pings one
on another node while tcpdump, in a lab-tools container on the node's host
network, writes what crosses the node's lab interface (the one holding its
lab address) on UDP 4789: at most --count packets (20) and --seconds (30).
The pcap is copied out (`docker exec ... cat`, nothing is left on the node)
to .cache/capture/<UTC time>.pcap on this machine, and each packet is
printed on one line: its outer headers (node addresses, UDP port, VNI)
beside its inner ones (container addresses, ICMP type). Then demo's VNI as
the kernel holds it on NODE (the VXLAN device in demo's overlay namespace,
checked against the network's vxlanid_list option on swarm) and whether
every packet carries it: exit 1 when no packet was caught or a VNI differs.

The containers are the tour's (scripts/tour.py): lab-tools with --rm, named
with a random prefix, removed at the end on every node with the tcpdump in
them, also after a failure, Ctrl-C or SIGTERM. The decoder is scripts/vxlan.py.

usage: python3 scripts/capture.py [--lab NAME] [--node NODE] [--count N] [--seconds S] [--out DIR]
"""

import argparse
import datetime
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import time

import tour  # scripts/tour.py: its containers, commands and cleanup (it puts tests/ on sys.path)
import vxlan

labkit = tour.labkit
PCAP = "/capture.pcap"  # in the capture container's own filesystem, removed with it
LOG = "/capture.log"
PID = "/capture.pid"  # of timeout, which hands a SIGINT on to tcpdump
PINGS = 4


class Failed(Exception):
    """The capture could not be made."""


def stamp(when=None):
    """A file name's UTC time: 20261206T201500Z."""
    return (when or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


HEADER = f"{'#':>3}  {'time (UTC)':<15}  {'outer: src -> dst (UDP)':<44} {'VXLAN':<12}| {'inner: src -> dst':<28} ICMP"


def show_vxlan(text):
    """`ip -j -d link show type vxlan` shown one line per device (other output as it is)."""
    try:
        devices = json.loads(text)
    except ValueError:
        return text
    if not isinstance(devices, list):
        return text
    return "\n".join(f"{d['ifindex']}: {d['ifname']} mtu {d.get('mtu')} master {d.get('master')}: VXLAN id "
                     f"{d['linkinfo']['info_data']['id']}, port {d['linkinfo']['info_data'].get('port')}"
                     for d in devices)


def packet_line(number, row):
    """One packet on one line: outer headers (addresses, UDP ports, VNI), then inner ones."""
    when = datetime.datetime.fromtimestamp(row["time"], datetime.timezone.utc).strftime("%H:%M:%S.%f")
    pkt = row["packet"]
    if pkt is None:
        return f"{number:>3}  {when}  not VXLAN: {row['error']}"
    outer = f"{pkt['src']}:{pkt['sport']} -> {pkt['dst']}:{pkt['dport']}"
    return (f"{number:>3}  {when}  {outer:<44} {'VNI ' + str(pkt['vni']):<12}| "
            f"{vxlan.inner_summary(pkt):<28} {vxlan.icmp_summary(pkt)}")


def verdict(rows, vni):
    """(exit code, sentence) of the decoded rows against demo's VNI."""
    decoded = [r["packet"] for r in rows if r["packet"]]
    if not decoded:
        return 1, "no VXLAN packet was caught"
    other = sorted({p["vni"] for p in decoded if p["vni"] != vni})
    if other:
        return 1, f"VNI differs: packets carry {', '.join(map(str, other))}, demo's is {vni}"
    return 0, f"every packet's VNI ({len(decoded)} of {len(rows)} decoded) equals demo's VNI {vni}: yes"


class Capture:
    def __init__(self, inventory, node, peer, prefix, count=20, seconds=30, out=sys.stdout):
        self.t = tour.Tour(inventory, prefix, out=out)
        self.inv, self.node, self.peer, self.p = inventory, node, peer, prefix
        self.count, self.seconds = count, seconds

    def say(self, text=""):
        self.t.say(text)

    def lab_interface(self, node):
        """The node's interface holding its lab address."""
        address = self.inv.addresses[node]
        for name, entry in tour.links(self.t.sh(node, "ip -j addr", show=tour.brief)[1]).items():
            if any(a.split("/")[0] == address for a in tour.inet(entry)):
                return name
        raise Failed(f"no interface of {node} holds {address}")

    def demo_address(self, node, container):
        out = self.t.sh(node, f"docker inspect -f '{{{{.NetworkSettings.Networks.demo.IPAddress}}}}' {container}")[1]
        return out.strip()

    def in_capture(self, cmd, timeout=30):
        """(rc, stdout) of cmd run with sh in the capture container, not printed (polling)."""
        res = subprocess.run(["docker", "exec", self.node, "docker", "exec", f"{self.p}-cap", "sh", "-c", cmd],
                             capture_output=True, text=True, timeout=timeout, check=False)
        return res.returncode, res.stdout

    def dumping(self):
        """Whether tcpdump (under timeout, pid in PID) runs, or is starting, in the capture container."""
        return self.in_capture(f"test ! -s {PID} || kill -0 $(cat {PID}) 2>/dev/null")[0] == 0

    def wait_for(self, what, test, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if test():
                return True
            time.sleep(0.3)
        raise Failed(f"{what} after {seconds} s")

    def capture(self):
        """The pcap file's bytes, and demo's VNI on the node as overlay_vni reads it."""
        node, peer, p = self.node, self.peer, self.p
        a, b, cap = f"{p}-a", f"{p}-b", f"{p}-cap"
        self.t.run_container(node, a, ["--network", "demo"])
        self.t.run_container(peer, b, ["--network", "demo"])
        src, dst = self.demo_address(node, a), self.demo_address(peer, b)
        try:
            found = vxlan.overlay_vni(lambda cmd: self.t.sh(node, cmd, check=False, show=show_vxlan))
        except vxlan.VniError as exc:
            raise Failed(f"demo's VNI on {node}: {exc}") from None
        iface = self.lab_interface(node)
        self.t.run_container(node, cap, ["--net", "host", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW"])
        dump = (f"echo $$ >{PID}; exec timeout {self.seconds} tcpdump -n -U -c {self.count} -i {iface} -w {PCAP} "
                f"udp port {vxlan.VXLAN_PORT} 2>{LOG}")
        self.t.sh(node, f"docker exec -d {cap} sh -c '{dump}'")
        self.wait_for(f"tcpdump in {cap} neither listens nor stopped",
                      lambda: "listening on" in self.in_capture(f"cat {LOG}")[1] or not self.dumping(), 15)
        log = self.in_capture(f"cat {LOG}")[1].strip()
        if "listening on" not in log:
            raise Failed(f"tcpdump in {cap} did not start: {log}")
        self.say(f"  tcpdump listens on {node}'s {iface}; {a} ({src}) on {node} pings {b} ({dst}) on {peer}")
        self.t.sh(node, f"docker exec {a} ping -c {PINGS} -i 0.2 -W 2 {dst}", check=False)
        if self.dumping():  # not stopped at its count yet
            time.sleep(1)  # the last reply on its way
            self.in_capture(f"kill -INT $(cat {PID})")
        self.wait_for(f"tcpdump in {cap} did not stop", lambda: not self.dumping(), self.seconds + 5)
        for line in self.in_capture(f"cat {LOG}")[1].strip().splitlines():
            self.say(f"    {line}")
        res = subprocess.run(["docker", "exec", node, "docker", "exec", cap, "cat", PCAP], capture_output=True,
                             timeout=60, check=False)
        if res.returncode != 0:
            raise Failed(f"copying {PCAP} out of {cap} failed: {res.stderr.decode(errors='replace').strip()}")
        return res.stdout, found, iface

    def run(self, out_dir):
        started = stamp()
        failed, data, interrupted = None, None, False
        try:
            self.say(f"== capture on {self.node}: VXLAN (udp port {vxlan.VXLAN_PORT}), at most {self.count} "
                     f"packets / {self.seconds} s, while {self.node} pings {self.peer} over demo")
            data, found, iface = self.capture()
        except (Failed, tour.Failed) as exc:
            failed = str(exc)
        except Exception as exc:  # a command that breaks fails the capture; cleanup runs either way
            failed = f"{type(exc).__name__}: {exc}"
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (_terminate)
            failed, interrupted = "interrupted", True
        finally:
            self.say(f"\n== cleanup (prefix {self.p})")
            left = self.t.cleanup()
            if left:  # a `docker run` cut short by Ctrl-C on this side may still be starting its container
                time.sleep(3)
                left = self.t.cleanup()
        if left:
            failed = (failed + "; " if failed else "") + f"left behind: {', '.join(left)}"
        if failed:
            self.say(f"\ncapture: FAILED: {failed}")
            return 130 if interrupted else 1, None
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{started}.pcap"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        rows = vxlan.decode_pcap(data)
        nodes = ", ".join(f"{n} {a}" for n, a in self.inv.addresses.items())
        self.say(f"\n== {len(rows)} packets on {self.node}'s {iface} ({nodes})")
        self.say(HEADER)
        for i, row in enumerate(rows, 1):
            self.say(packet_line(i, row))
        option = f"; the network's vxlanid_list option: {found['option'][0]}" if found["option"] else ""
        self.say(f"\ndemo's VNI on {self.node} (kernel: {found['device']} in {found['namespace']}): "
                 f"{found['vni']}{option}")
        code, sentence = verdict(rows, found["vni"])
        self.say(f"{sentence}\nwrote {path}")
        if code:
            self.say(f"capture: FAILED: {sentence}")
        return code, path


def _terminate(signum, frame):
    raise KeyboardInterrupt  # like Ctrl-C: the capture stops, its cleanup runs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--lab", default=None, help="inventory/<lab> (default: LAB or lab)")
    ap.add_argument("--node", default=None, help="the node to capture on (default: the inventory's first)")
    ap.add_argument("--count", type=int, default=20, help="at most this many packets (20)")
    ap.add_argument("--seconds", type=int, default=30, help="for at most this many seconds (30)")
    ap.add_argument("--out", default=str(labkit.CACHE / "capture"), help="where the pcap goes (.cache/capture)")
    args = ap.parse_args(argv)
    inv = labkit.Inventory(args.lab)
    nodes = list(inv.addresses)
    node = args.node or nodes[0]
    if node not in inv.addresses:
        print(f"capture: {node} is not a node of inventory/{inv.lab} ({', '.join(nodes)})", file=sys.stderr)
        return 2
    others = [n for n in nodes if n != node]
    if not others:
        print("capture: the overlay needs a second node", file=sys.stderr)
        return 2
    down = [n for n in (node, others[0])
            if subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", n], capture_output=True, text=True,
                              check=False).stdout.strip() != "true"]
    if down:
        print(f"capture: nodes not running: {', '.join(down)} (make lab)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    code, _path = Capture(inv, node, others[0], "cap" + secrets.token_hex(3), count=args.count,
                          seconds=args.seconds).run(pathlib.Path(args.out))
    return code


if __name__ == "__main__":
    sys.exit(main())
