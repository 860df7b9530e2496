"""A guided tour of the tutorial on the running lab (make tour).

Walks the tutorial's chapters against the lab's nodes: each step prints the
commands it runs on a node (through `docker exec`), their live output, and
the claim it checks; the tour stops at the first claim that does not hold,
names the step and exits 1. Everything it makes (namespaces, containers,
networks) is named with a random prefix and removed at the end, also after
a failure or Ctrl-C. Every wait is bounded; traffic goes only between the
lab's nodes and the containers the tour starts. Nodes, addresses and the app
node come from the inventory (tests/labkit.py); the lab-tools image from
.cache/images (scripts/images.sh).

usage: python3 scripts/tour.py [--lab NAME]
"""

import argparse
import ipaddress
import json
import pathlib
import re
import secrets
import shlex
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import labkit  # noqa: E402  (tests/labkit.py: the inventory and the tools image)
import vxlan  # noqa: E402  (scripts/vxlan.py: the VXLAN decoder and demo's VNI, shared with capture.py)

VXLAN_PORT = vxlan.VXLAN_PORT
APP_PORT = 5000
IMPAIR_DELAY_MS = 20
APP_CONTAINER = "app"
APP_ANSWER = re.compile(r"\AHello Container World! I have been seen (\d+) times and my hostname is (\S+)\.\s*\Z")
# Runs on a node: GET argv[1], print [status, body] as JSON.
FETCH = ("import json, sys, urllib.request\n"
         "try:\n"
         "    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:\n"
         "        print(json.dumps([r.status, r.read().decode()]))\n"
         "except OSError as e:\n"
         "    print(json.dumps([-1, repr(e)]))\n")


class Failed(Exception):
    """A claim that does not hold, or a command that failed."""


# ------------------------------------------------------------------ pure parts

def parse_app_answer(body):
    """(count, hostname) of the app's answer, or None."""
    m = APP_ANSWER.match(body or "")
    return (int(m.group(1)), m.group(2)) if m else None


def links(ip_json_text):
    """{ifname: entry} of `ip -j addr`/`ip -j link` output."""
    return {e["ifname"]: e for e in json.loads(ip_json_text or "[]") if "ifname" in e}


def inet(entry):
    """IPv4 addresses (CIDR) of one `ip -j addr` entry."""
    return [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info") or [] if a.get("family") == "inet"]


def brief(ip_json_text):
    """`ip -j` output shown one line per link, like `ip -br`."""
    rows = []
    for name, e in links(ip_json_text).items():
        peer = f"@if{e['link_index']}" if "link_index" in e else ""
        master = f" master {e['master']}" if e.get("master") else ""
        rows.append(f"{e['ifindex']}: {name}{peer} mtu {e.get('mtu')}{master} {' '.join(inet(e))}".rstrip())
    return "\n".join(rows)


# ------------------------------------------------------------------ the tour

class Tour:
    def __init__(self, inventory, prefix, out=sys.stdout):
        self.inv = inventory
        self.nodes = list(inventory.addresses)
        self.p = prefix
        self.out = out
        self.images = {}
        self.step_title = None
        self.impaired = None  # the node the tour impaired, until it clears it

    def say(self, text=""):
        print(text, file=self.out, flush=True)

    def sh(self, node, cmd, timeout=60, check=True, show=None):
        """Run cmd with sh on node, print it and its output; (rc, stdout)."""
        self.say(f"[{node}] $ {cmd}")
        try:
            res = subprocess.run(["docker", "exec", node, "sh", "-c", cmd], capture_output=True, text=True,
                                 timeout=timeout, check=False)
            rc, out, err = res.returncode, res.stdout, res.stderr
        except subprocess.TimeoutExpired:
            rc, out, err = 124, "", f"timed out after {timeout} s"
        shown = show(out) if show and rc == 0 else out
        for line in (shown.rstrip() + ("\n" + err.rstrip() if err.strip() else "")).strip("\n").splitlines():
            self.say(f"    {line}")
        if check and rc != 0:
            raise Failed(f"`{cmd}` on {node} failed (rc={rc})")
        return rc, out

    def claim(self, text, ok):
        self.say(f"  claim: {text}: {'holds' if ok else 'DOES NOT HOLD'}")
        if not ok:
            raise Failed(text)

    def image(self, node):
        if node not in self.images:
            self.images[node] = labkit.Node(node, self.inv.addresses[node]).tools_image()
        return self.images[node]

    def run_container(self, node, name, args=(), cmd="sleep 900"):
        """A detached container of the tools image, removed when it stops (after 15 minutes at most)."""
        argv = ["docker run -d --rm --pull never --name", name, *args, self.image(node), cmd]
        self.sh(node, " ".join(argv), timeout=120)

    def ping(self, node, container, target, tries=3, extra=""):
        for attempt in range(tries):
            rc, _out = self.sh(node, f"docker exec {container} ping -c 1 -W 2 {extra}{target}", check=False)
            if rc == 0:
                return True
            if attempt + 1 < tries:
                time.sleep(1)
        return False

    # ---------------------------------------------------------------- steps

    def step_netns(self):
        n, p = self.nodes[0], self.p
        a, b = f"{p}-a", f"{p}-b"
        self.sh(n, f"ip netns add {a} && ip netns add {b}")
        self.sh(n, f"ip link add {p}a netns {a} type veth peer name {p}b netns {b}")
        for ns, dev, addr in ((a, f"{p}a", "10.250.0.1/24"), (b, f"{p}b", "10.250.0.2/24")):
            self.sh(n, f"ip -n {ns} addr add {addr} dev {dev} && ip -n {ns} link set {dev} up "
                       f"&& ip -n {ns} link set lo up")
        la = links(self.sh(n, f"ip -n {a} -j addr show {p}a", show=brief)[1])[f"{p}a"]
        lb = links(self.sh(n, f"ip -n {b} -j addr show {p}b", show=brief)[1])[f"{p}b"]
        self.claim(f"{p}a in {a} and {p}b in {b} are one veth pair (each one's peer index is the other's ifindex)",
                   la.get("link_index") == lb["ifindex"] and lb.get("link_index") == la["ifindex"])
        rc, _out = self.sh(n, f"ip netns exec {a} ping -c 1 -W 2 10.250.0.2", check=False)
        self.claim(f"{a} reaches 10.250.0.2 in {b} over the pair", rc == 0)

    def step_docker0(self):
        n, c = self.nodes[0], f"{self.p}-c1"
        self.run_container(n, c)
        eth0 = links(self.sh(n, f"docker exec {c} ip -j addr show eth0", show=brief)[1])["eth0"]
        iflink = int(self.sh(n, f"docker exec {c} cat /sys/class/net/eth0/iflink")[1])
        ports = links(self.sh(n, "ip -j link show master docker0", show=brief)[1])
        host_end = next((name for name, e in ports.items() if e["ifindex"] == iflink), None)
        self.claim(f"{c}'s eth0 ({', '.join(inet(eth0))}) has its other end on the node, "
                   f"ifindex {iflink} = {host_end}, a port of docker0", host_end is not None)

    def step_link_and_dns(self):
        n, p = self.nodes[0], self.p
        c1, c2, u1, u2, net = f"{p}-c1", f"{p}-c2", f"{p}-u1", f"{p}-u2", f"{p}-net"
        self.run_container(n, c2, ["--link", c1])
        rc, _out = self.sh(n, f"docker exec {c2} getent hosts {c1}", check=False)
        self.claim(f"on the default bridge, --link makes {c1} known to {c2} (/etc/hosts)",
                   rc == 0 and self.ping(n, c2, c1))
        rc, _out = self.sh(n, f"docker exec {c1} getent hosts {c2}", check=False)
        self.claim(f"... in one direction only: {c1} cannot resolve {c2} (no DNS on the default bridge)", rc != 0)
        self.sh(n, f"docker network create {net}")
        self.run_container(n, u1, ["--network", net])
        self.run_container(n, u2, ["--network", net])
        resolv = self.sh(n, f"docker exec {u1} cat /etc/resolv.conf")[1]
        self.claim(f"on the user-defined bridge {net} containers ask Docker's DNS (nameserver 127.0.0.11)",
                   "nameserver 127.0.0.11" in resolv)
        self.claim(f"{u1} and {u2} reach each other by name, without --link",
                   self.ping(n, u1, u2) and self.ping(n, u2, u1))

    def step_connect(self):
        n, p = self.nodes[0], self.p
        c1, c2, u1, net = f"{p}-c1", f"{p}-c2", f"{p}-u1", f"{p}-net"
        self.sh(n, f"docker network connect {net} {c1}")
        seen = {name: inet(e) for name, e in links(self.sh(n, f"docker exec {c1} ip -j addr", show=brief)[1]).items()
                if name != "lo"}
        nets = json.loads(self.sh(n, f"docker inspect -f '{{{{json .NetworkSettings.Networks}}}}' {c1}")[1])
        want = {name: v["IPAddress"] for name, v in nets.items()}
        have = sorted(a.split("/")[0] for addrs in seen.values() for a in addrs)
        self.claim(f"{c1} has two interfaces ({', '.join(sorted(seen))}) with the two addresses Docker gave it "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(want.items()))})",
                   len(seen) == 2 and sorted(want) == sorted(["bridge", net]) and have == sorted(want.values()))
        self.claim(f"{c2} (default bridge) reaches {c1} at {want['bridge']}", self.ping(n, c2, want["bridge"]))
        self.claim(f"{u1} ({net}) reaches {c1} by name at {want[net]}", self.ping(n, u1, c1))

    def step_publish(self):
        n, web = self.nodes[0], f"{self.p}-web"
        other = self.nodes[1] if len(self.nodes) > 1 else n
        port = 20000 + secrets.randbelow(10000)
        page = f"hello from {web}"
        serve = (f"mkdir -p /www && echo '{page}' > /www/index.html "
                 "&& exec timeout 900 busybox httpd -f -p 80 -h /www")
        self.run_container(n, web, ["-p", f"{port}:80"], f"sh -c {shlex.quote(serve)}")
        self.sh(n, f"docker port {web}")
        ip = self.sh(n, f"docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {web}")[1].strip()
        rules = self.sh(n, f"iptables -w -t nat -S DOCKER | grep -- '--dport {port} '", check=False)[1]
        self.claim(f"Docker publishes port {port} with a DNAT rule to {ip}:80", f"--to-destination {ip}:80" in rules)
        url = f"http://{self.inv.addresses[n]}:{port}/"
        answer = [-1, ""]
        for _attempt in range(10):
            answer = json.loads(self.sh(other, f"python3 -c {shlex.quote(FETCH)} {url}")[1])
            if answer[0] == 200:
                break
            time.sleep(1)
        self.claim(f"{other} gets the page at {url}: {page!r}", answer == [200, page + "\n"])

    def step_none_and_host(self):
        n = self.nodes[0]
        img = self.image(n)
        seen = links(self.sh(n, f"docker run --rm --pull never --network none {img} ip -j addr", show=brief)[1])
        self.claim("a container on `none` has only lo", list(seen) == ["lo"])
        inside = links(self.sh(n, f"docker run --rm --pull never --network host {img} ip -j addr", show=brief)[1])
        node = links(self.sh(n, "ip -j addr", show=brief)[1])
        address = self.inv.addresses[n]
        up = next((name for name, e in node.items() if any(a.startswith(address + "/") for a in inet(e))), None)
        same = [name for name in (up, "docker0") if name in inside and inside[name]["ifindex"] == node[name]["ifindex"]
                and inet(inside[name]) == inet(node[name])]
        self.claim(f"a container on `host` sees the node's own interfaces: {up} with {address}, docker0",
                   up is not None and same == [up, "docker0"])

    def demo_vni(self, node):
        """The VNI of demo's VXLAN device, in its overlay namespace /var/run/docker/netns/<n>-<network id>."""
        try:
            found = vxlan.overlay_vni(lambda cmd: self.sh(node, cmd, check=False))
        except vxlan.VniError as exc:
            self.claim(f"demo's VNI on {node}: {exc}", False)
        self.claim(f"demo has its overlay namespace on {node} ({found['namespace']})", True)
        return found["vni"]

    def step_overlay(self):
        if len(self.nodes) < 2:
            raise Failed("the overlay step needs two nodes")
        n1, n2 = self.nodes[:2]
        o1, o2 = f"{self.p}-o1", f"{self.p}-o2"
        self.run_container(n1, o1, ["--network", "demo"])
        self.run_container(n2, o2, ["--network", "demo"])
        self.claim(f"{o1} on {n1} reaches {o2} on {n2} by name over demo", self.ping(n1, o1, o2, tries=10))
        subnet = ipaddress.ip_network(self.sh(n1, "docker network inspect -f "
                                                  "'{{range .IPAM.Config}}{{.Subnet}}{{end}}' demo")[1].strip())
        mine = {name: e for name, e in links(self.sh(n1, f"docker exec {o1} ip -j addr", show=brief)[1]).items()
                if any(ipaddress.ip_interface(a).ip in subnet for a in inet(e))}
        self.claim(f"{o1} has one interface on demo ({subnet})", len(mine) == 1)
        dev, entry = next(iter(mine.items()))
        src = inet(entry)[0].split("/")[0]
        dst = self.sh(n2, f"docker inspect -f '{{{{.NetworkSettings.Networks.demo.IPAddress}}}}' {o2}")[1].strip()
        self.claim(f"{o1}'s {dev} on demo has MTU 1450: 1500 less 50 bytes of VXLAN", entry["mtu"] == 1450)
        self.claim("a 1450-byte packet crosses unfragmented (ping -M do -s 1422)",
                   self.ping(n1, o1, dst, tries=2, extra="-M do -s 1422 "))
        vni = self.demo_vni(n1)
        self.say(f"  demo's VXLAN device on {n1} has VNI {vni}")
        iface = next(name for name, e in links(self.sh(n1, "ip -j addr")[1]).items()
                     if any(a.startswith(self.inv.addresses[n1] + "/") for a in inet(e)))
        capture = (f"docker run --rm --pull never --name {self.p}-cap --net host --cap-add NET_ADMIN "
                   f"--cap-add NET_RAW {self.image(n1)} timeout 30 tcpdump -l -n -c 1 -x -i {iface} "
                   f"{shlex.quote(vxlan.bpf_inner_source(src))}")
        self.say(f"[{n1}] $ {capture} &")
        proc = subprocess.Popen(["docker", "exec", n1, "sh", "-c", capture], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(2)
            for _attempt in range(15):
                self.sh(n1, f"docker exec {o1} ping -c 1 -W 1 {dst}", check=False)
                if proc.poll() is not None:
                    break
                time.sleep(1)
            out, err = proc.communicate(timeout=40)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        for line in (out + err).strip().splitlines():
            self.say(f"    {line}")
        packets = vxlan.hexdump_packets(out)
        self.claim(f"tcpdump on {n1}'s {iface} caught a VXLAN packet from {o1}", len(packets) == 1)
        pkt = vxlan.decode_vxlan(packets[0])
        self.say(f"  decoded: outer {pkt['src']} -> {pkt['dst']}:{pkt['dport']}, VXLAN flags 0x{pkt['flags']:02x} "
                 f"VNI {pkt['vni']}, inner {pkt.get('inner_src')} -> {pkt.get('inner_dst')} "
                 f"(MAC {pkt['inner_src_mac']} -> {pkt['inner_dst_mac']})")
        self.claim(f"it goes {self.inv.addresses[n1]} -> {self.inv.addresses[n2]} UDP {VXLAN_PORT}",
                   (pkt["src"], pkt["dst"], pkt["dport"]) == (self.inv.addresses[n1], self.inv.addresses[n2],
                                                              VXLAN_PORT))
        self.claim(f"its VXLAN header (flag I) carries VNI {pkt['vni']}, demo's VNI {vni}",
                   bool(pkt["flags"] & 0x08) and pkt["vni"] == vni)
        self.claim(f"inside is {o1} -> {o2} ({src} -> {dst})",
                   (pkt.get("inner_src"), pkt.get("inner_dst")) == (src, dst))

    def lab_link(self, node):
        """The node's interface that holds its lab address."""
        return next(name for name, e in links(self.sh(node, "ip -j addr")[1]).items()
                    if any(a.startswith(self.inv.addresses[node] + "/") for a in inet(e)))

    def rtt(self, node, cmd, count=10):
        """The median round trip in ms of ``ping -c count`` run by cmd on node, or None."""
        _rc, out = self.sh(node, f"{cmd} -c {count} -i 0.2 -W 2", check=False)
        times = sorted(float(t) for t in re.findall(r"time=([0-9.]+) ms", out))
        return times[len(times) // 2] if times else None

    def impair(self, node, args):
        """lab.multihost.impair on node, as `ansible NODE -m lab.multihost.impair` runs it."""
        self.say(f"[{node}] lab.multihost.impair {json.dumps(args)}")
        result = labkit.ansible_module(node, "lab.multihost.impair", args, lab=self.inv.lab)
        if result.get("failed"):
            raise Failed(f"lab.multihost.impair on {node}: {result.get('msg')}")
        imp = result.get("impairment") or {}
        self.say(f"    backend {result.get('backend')}, changed {result.get('changed')}, "
                 f"in force {imp.get('in_force')}")
        return result

    def step_impair(self):
        n1, n2 = self.nodes[:2]
        o1, o2 = f"{self.p}-o1", f"{self.p}-o2"
        read = labkit.ansible_module(n2, "lab.multihost.node_state", {"impairments": True}, lab=self.inv.lab)
        self.claim(f"{n2} holds no impairment of its own (the tour would change a running experiment)",
                   not read["state"]["impairments"])
        iface = self.lab_link(n2)
        under = f"ping {self.inv.addresses[n2]}"
        over = f"docker exec {o1} ping {o2}"
        base_under, base_over = self.rtt(n1, under), self.rtt(n1, over)
        self.claim(f"before: underlay {base_under} ms, overlay {base_over} ms", None not in (base_under, base_over))
        self.impaired = n2
        self.impair(n2, {"interface": iface, "delay": f"{IMPAIR_DELAY_MS}ms"})
        under_ms, over_ms = self.rtt(n1, under), self.rtt(n1, over)
        self.claim(f"with {IMPAIR_DELAY_MS} ms on {n2}'s {iface}: underlay {under_ms} ms, overlay {over_ms} ms",
                   None not in (under_ms, over_ms))
        self.claim(f"the overlay's ping carries the delay: {over_ms} ms >= {base_over} + {IMPAIR_DELAY_MS * 0.9} ms",
                   over_ms >= base_over + IMPAIR_DELAY_MS * 0.9)
        self.claim(f"the overlay adds no more than 1 ms to the underlay: {over_ms} - {under_ms} = "
                   f"{over_ms - under_ms:.2f} ms", abs(over_ms - under_ms) <= 1.0)
        self.impair(n2, {"interface": iface, "state": "absent"})
        self.impaired = None

    def step_app(self):
        app = self.inv.group("app")[0]
        other = next((n for n in self.nodes if n != app), app)
        url = f"http://{self.inv.addresses[app]}:{APP_PORT}/"
        answers = [json.loads(self.sh(other, f"python3 -c {shlex.quote(FETCH)} {url}")[1]) for _attempt in range(2)]
        parsed = [parse_app_answer(body) if status == 200 else None for status, body in answers]
        self.claim(f"the app on {app} answers {url} with its counter", all(parsed))
        self.claim(f"the counter went up ({parsed[0][0]} -> {parsed[1][0]}): redis keeps it",
                   parsed[1][0] > parsed[0][0])
        hostname = self.sh(app, f"docker inspect -f '{{{{.Config.Hostname}}}}' {APP_CONTAINER}")[1].strip()
        self.claim(f"the hostname it reports is the app container's ({hostname})", parsed[1][1] == hostname)

    STEPS = [
        ("Network namespaces: two joined by a veth pair", step_netns),
        ("docker0: a container's eth0 and its veth on the node", step_docker0),
        ("--link on the default bridge, names on a user-defined bridge", step_link_and_dns),
        ("docker network connect: one container on two networks", step_connect),
        ("-p: a small web server published on the node's lab address", step_publish),
        ("none and host networks", step_none_and_host),
        ("The overlay across nodes: names, MTU and one VXLAN packet", step_overlay),
        ("Latency on the underlay shows in the overlay", step_impair),
        ("The app and its counter, over the overlay", step_app),
    ]

    # ------------------------------------------------------------ cleanup

    def leftovers(self, node):
        """Containers, networks and namespaces on node named with the tour's prefix."""
        def named(cmd):
            out = subprocess.run(["docker", "exec", node, "sh", "-c", cmd], capture_output=True, text=True,
                                 timeout=60, check=False).stdout
            return [x for x in out.split() if x.startswith(self.p)]
        return (named(f"docker ps -a --filter name={self.p} --format '{{{{.Names}}}}'"),
                named(f"docker network ls --filter name={self.p} --format '{{{{.Name}}}}'"),
                named("ip netns list | cut -d' ' -f1"))

    def cleanup(self):
        """Remove what the tour made on every node; the names of what is left."""
        left = []
        if self.impaired:
            node = self.impaired
            try:
                self.impair(node, {"interface": self.lab_link(node), "state": "absent"})
                self.impaired = None
            except Exception as exc:  # named below as left behind
                self.say(f"    clearing the impairment on {node} failed: {exc}")
            if self.impaired:
                left.append(f"{node}: the tour's impairment")
        for node in self.nodes:
            containers, networks, namespaces = self.leftovers(node)
            cmds = ([f"docker rm -f {' '.join(containers)}"] if containers else []) + \
                [f"docker network rm {n}" for n in networks] + [f"ip netns del {ns}" for ns in namespaces]
            for cmd in cmds:
                self.sh(node, cmd, timeout=120, check=False)
            left += [f"{node}: {x}" for group in self.leftovers(node) for x in group]
        return left

    def run(self):
        failed = None
        try:
            for i, (title, step) in enumerate(self.STEPS, 1):
                self.step_title = f"step {i} ({title})"
                self.say(f"\n== {i}/{len(self.STEPS)} {title}")
                step(self)
        except Failed as exc:
            failed = f"{self.step_title}: {exc}"
        except Exception as exc:  # a step that breaks fails like a claim; cleanup runs either way
            failed = f"{self.step_title}: {type(exc).__name__}: {exc}"
        finally:
            self.say(f"\n== cleanup (prefix {self.p})")
            left = self.cleanup()
        if left:
            failed = (failed + "; " if failed else "") + f"left behind: {', '.join(left)}"
        self.say(f"\ntour: {'FAILED at ' + failed if failed else 'every claim holds'}")
        return 1 if failed else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--lab", default=None, help="inventory/<lab> (default: LAB or lab)")
    args = ap.parse_args(argv)
    inv = labkit.Inventory(args.lab)
    down = [n for n in inv.addresses
            if subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", n], capture_output=True, text=True,
                              check=False).stdout.strip() != "true"]
    if down:
        print(f"tour: nodes not running: {', '.join(down)} (make lab)", file=sys.stderr)
        return 2
    return Tour(inv, "tour" + secrets.token_hex(3)).run()


if __name__ == "__main__":
    sys.exit(main())
