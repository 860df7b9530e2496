"""A local lab of N node containers, generated from one definition: its inventory.

`make lab NODES=5`, `make lab BACKEND=swarm` (and every make target that takes
NODES=/BACKEND=) run this; it writes .cache/inventory/<lab>/hosts.yml and a
group_vars folder of links to inventory/group_vars, as inventory/lab has them.
The lab's name is `lab` for cluster-store (the tutorial's lab: `make lab`, then
`make lab NODES=3`, grows the same lab) and `swarm` for swarm. Nodes are
docker-node1..N at the lab network's .10 upwards (inventory/group_vars/local_lab.yml).

Placement (hand-written inventories keep their own groups):
  etcd            every node up to 3; from 4 an odd number: all when N is odd,
                  N-1 when N is even (the last node is left out)
  swarm managers  1 below 3 nodes, the first 3 from 3 nodes; the rest are workers
  app, redis      the app on the first node, redis on the last; a running lab that
                  grows keeps redis where it runs (its data, the counter, is there)
For N=2 on cluster-store this is inventory/lab (tests/unit/test_lab_inventory.py).

usage: python3 scripts/lab_inventory.py [--nodes 2..9] [--backend cluster-store|swarm]
                                        [--redis-on NODE] [--out DIR]
Pure standard library and PyYAML; asks this machine's Docker engine (read only)
on which node a running lab of that name runs redis, unless --redis-on says.
"""

import argparse
import ipaddress
import os
import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_VARS = ROOT / "inventory" / "group_vars"
# 2 is the tutorial's lab; 9 keeps the nodes at .10-.18 and is as many as a
# 2-core machine runs (each node its own systemd, dockerd and etcd).
MIN_NODES, MAX_NODES = 2, 9
FIRST_HOST = 10
# Backend -> (lab name, Debian release of the nodes, what that gives): Debian 12's
# Docker 20.10 still has the cluster store, Debian 13's Docker 26 runs swarm.
BACKENDS = {"cluster-store": ("lab", "bookworm", "Debian 12, Docker 20.10"),
            "swarm": ("swarm", "trixie", "Debian 13, Docker 26")}
SWARM_MANAGERS = 3


class LabError(ValueError):
    """An input the generator refuses, with the sentence to show."""


def check_nodes(value):
    """NODES as an int from MIN_NODES to MAX_NODES, or LabError saying why."""
    text = str(value).strip()
    if not text.isdigit() or not MIN_NODES <= int(text) <= MAX_NODES:
        raise LabError(f"NODES={value}: a whole number from {MIN_NODES} to {MAX_NODES} (the lab network's "
                       f".{FIRST_HOST}-.{FIRST_HOST + MAX_NODES - 1}, and as many nodes as a 2-core machine runs)")
    return int(text)


def check_backend(value):
    if value not in BACKENDS:
        raise LabError(f"BACKEND={value}: one of {', '.join(BACKENDS)}")
    return value


def lab_network():
    """The local labs' network ({name, subnet}), shared by every local lab."""
    return yaml.safe_load((SHARED_VARS / "local_lab.yml").read_text())["lab_network"]


def nodes(n, subnet=None):
    """{docker-nodeI: address} for I = 1..n, at the lab network's .10 upwards."""
    base = ipaddress.ip_network(subnet or lab_network()["subnet"]).network_address + FIRST_HOST
    return {f"docker-node{i + 1}": str(base + i) for i in range(n)}


def etcd_members(names):
    """(members, why the others are left out or ''): every node up to 3; from 4 an odd number."""
    n = len(names)
    if n <= 3 or n % 2:
        return list(names), ""
    left = names[-1]
    return list(names[:-1]), (f"etcd on {n - 1} of {n} nodes, {left} left out: {n} members would tolerate one "
                              f"failure, as {n - 1} do, and every write would wait for {n // 2 + 1} of them "
                              f"instead of {(n - 1) // 2 + 1}")


def swarm_managers(names):
    """The first node below 3 nodes, the first 3 from 3 nodes."""
    return list(names[:SWARM_MANAGERS] if len(names) >= SWARM_MANAGERS else names[:1])


def redis_node(names, running=None):
    """(the node for redis, why not the last or ''): the last node, or the one where a running lab
    runs it: moving it would leave its data (the counter) behind."""
    if running in names and running != names[-1]:
        return running, (f"redis stays on {running}, where the running lab keeps its data "
                         f"(a new lab of {len(names)} puts it on {names[-1]})")
    return names[-1], ""


def placement(names, redis_running=None):
    """Group -> hosts, and the notes that explain a choice."""
    etcd, etcd_note = etcd_members(names)
    managers = swarm_managers(names)
    redis, redis_note = redis_node(names, redis_running)
    groups = {"etcd": etcd, "swarm_managers": managers,
              "swarm_workers": [h for h in names if h not in managers],
              "app": [names[0]], "redis": [redis]}
    return groups, [note for note in (etcd_note, redis_note) if note]


def _docker(*args):
    """stdout of a docker CLI call on this machine, '' when it fails or no engine answers."""
    try:
        res = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return res.stdout if res.returncode == 0 else ""


def _redis_in(path):
    """The redis host of the inventory at path, and its nodes; (None, set()) without one."""
    try:
        children = yaml.safe_load((pathlib.Path(path) / "hosts.yml").read_text())["all"]["children"]
        return next(iter(children["redis"]["hosts"])), set(children["nodes"]["hosts"])
    except (OSError, KeyError, TypeError, StopIteration, yaml.YAMLError):
        return None, set()


def running_redis(lab, out=None):
    """Where the existing lab `lab` (its node containers' label, as scripts/lab.sh reads it) runs
    redis, or None (no such lab). Asked of its running nodes; when they do not answer (stopped by a
    host restart), the inventory they were made from: the one that lists exactly these nodes, the
    last generated one or inventory/<lab>. Read only."""
    name = yaml.safe_load((SHARED_VARS / "all" / "app.yml").read_text())["redis_container_name"]
    label = f"label=lab.multihost.lab={lab}"
    for node in _docker("ps", "--filter", label, "--format", "{{.Names}}").split():
        if _docker("exec", node, "docker", "ps", "-aq", "--filter", f"name=^{name}$").strip():
            return node
    existing = set(_docker("ps", "-a", "--filter", label, "--format", "{{.Names}}").split())
    for path in (out or default_out_of(lab), ROOT / "inventory" / lab):
        redis, listed = _redis_in(path)
        if existing and listed == existing:
            return redis
    return None


def inventory(n, backend="cluster-store", redis_running=None):
    """(the inventory as a dict, as hosts.yml holds it; the placement notes). redis_running: the
    node where the running lab runs redis, if any."""
    lab, release, _what = BACKENDS[check_backend(backend)]
    addresses = nodes(check_nodes(n))
    names = list(addresses)
    groups, notes = placement(names, redis_running)

    def hosts(members):
        return {"hosts": dict.fromkeys(members)}

    # etcd on every node is written as inventory/lab writes it: through `nodes`.
    etcd = {"children": {"nodes": None}} if groups["etcd"] == names else hosts(groups["etcd"])

    data = {"all": {
        "vars": {"lab_name": lab, "lab_node_release": release},
        "children": {
            "local_lab": {"children": {"nodes": None}},
            "nodes": {"hosts": {name: {"lab_address": address} for name, address in addresses.items()}},
            "docker": {"children": {"nodes": None}},
            "etcd": etcd,
            "swarm_managers": hosts(groups["swarm_managers"]),
            "swarm_workers": hosts(groups["swarm_workers"]),
            "app": hosts(groups["app"]),
            "redis": hosts(groups["redis"]),
        }}}
    return data, notes


def describe(data, notes):
    """Lines saying what the lab is and where each part runs."""
    allv, children = data["all"]["vars"], data["all"]["children"]
    addresses = children["nodes"]["hosts"]
    names = list(addresses)

    def members(group):
        spec = children[group]
        return names if "children" in spec else list(spec.get("hosts") or {})

    first, last = addresses[names[0]]["lab_address"], addresses[names[-1]]["lab_address"]
    backend, what = next((b, what) for b, (lab, _release, what) in BACKENDS.items() if lab == allv["lab_name"])
    workers = members("swarm_workers")
    return [f"{len(names)} nodes at {first}-{last.rsplit('.', 1)[1]}, {backend} ({what})",
            f"etcd: {' '.join(members('etcd'))}",
            f"swarm managers: {' '.join(members('swarm_managers'))}; workers: {' '.join(workers) or 'none'}",
            f"app: {' '.join(members('app'))}; redis: {' '.join(members('redis'))}",
            *notes]


def render(data, notes, command):
    """hosts.yml's text: a header that says where it comes from, then the inventory."""
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False).replace(": null\n", ":\n")
    head = [f"Generated by scripts/lab_inventory.py ({command}): do not edit, run it again.",
            "Placement rules: the script's docstring. What this lab is:",
            *(f"placement: {line}" for line in describe(data, notes))]
    return "---\n" + "".join(f"# {line}\n" for line in head) + body


def write(out, data, notes, command="make lab"):
    """out/hosts.yml and out/group_vars: a relative link per file of inventory/group_vars."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "hosts.yml.tmp"
    tmp.write_text(render(data, notes, command))
    tmp.replace(out / "hosts.yml")
    links = out / "group_vars"
    shutil.rmtree(links, ignore_errors=True)  # links only: rmtree removes them, not what they point at
    for src in sorted(p for p in SHARED_VARS.rglob("*") if p.is_file()):
        link = links / src.relative_to(SHARED_VARS)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(src, link.parent))
    return out


def default_out_of(lab):
    return ROOT / ".cache" / "inventory" / lab


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nodes", default=str(MIN_NODES), help=f"{MIN_NODES} to {MAX_NODES} (default {MIN_NODES})")
    ap.add_argument("--backend", default="cluster-store", help=" or ".join(BACKENDS))
    ap.add_argument("--redis-on", default=None, help="the node redis runs on now (default: asked of the running lab)")
    ap.add_argument("--out", default=None, help="the inventory directory (default .cache/inventory/<lab>)")
    args = ap.parse_args(argv)
    try:
        check_nodes(args.nodes)
        lab = BACKENDS[check_backend(args.backend)][0]
        out = pathlib.Path(args.out) if args.out else default_out_of(lab)
        data, notes = inventory(args.nodes, args.backend, args.redis_on or running_redis(lab, out))
    except LabError as exc:
        print(f"lab_inventory: {exc}", file=sys.stderr)
        return 2
    command = f"NODES={args.nodes}" + ("" if args.backend == "cluster-store" else f" BACKEND={args.backend}")
    write(out, data, notes, command)
    shown = os.path.relpath(out) if not os.path.relpath(out).startswith("..") else out
    print(f"lab_inventory: {shown} (lab '{data['all']['vars']['lab_name']}'):")
    for line in describe(data, notes):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
