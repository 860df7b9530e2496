"""Helpers for the project's tests and benchmarks.

One module for what tests, fixtures and tooling share, so each thing is done
one way: the lab's inventory and nodes, running Ansible and reading its
recap, the tools image, power cycles, and real network namespaces on this
machine. Molecule's testinfra tests, the pytest suites and bench/ use it.
pytest finds it through ``pythonpath`` in pyproject.toml (``import labkit``);
a bench/ script puts this directory on ``sys.path`` itself. It imports
nothing from the project's plugins: tests that drive the engine import
``ansible_collections.lab.multihost...`` directly.
"""

import ipaddress
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import yaml

ROOT = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or pathlib.Path(__file__).resolve().parents[1])
CACHE = pathlib.Path(os.environ.get("LAB_CACHE_DIR") or ROOT / ".cache")
VENV_BIN = ROOT / ".venv" / "bin"


# ----------------------------------------------------------------- inventory

def lab_name():
    """The lab under test: LAB (molecule's scenarios set it), default the tutorial's `lab`."""
    return os.environ.get("LAB", "lab")


def inventory_path(lab=None):
    return ROOT / "inventory" / (lab or lab_name())


def scenario(lab, backend):
    """The molecule scenario a lab is: default (two nodes, cluster-store), swarm (two nodes), ha (three nodes)."""
    if lab == "ha":
        return "ha"
    return "swarm" if backend == "swarm" else "default"


class Inventory:
    """Groups and node addresses of inventory/<lab>/hosts.yml (plain YAML, children resolved)."""

    def __init__(self, lab=None):
        self.lab = lab or lab_name()
        data = yaml.safe_load((inventory_path(self.lab) / "hosts.yml").read_text())["all"]
        self._groups = data.get("children") or {}
        nodes = self._groups["nodes"]["hosts"]
        self.addresses = {name: v["lab_address"] for name, v in nodes.items()}

    def group(self, name):
        """Hosts of a group, in inventory order, through its children."""
        spec = self._groups.get(name) or {}
        hosts = list(spec.get("hosts") or {})
        for child in spec.get("children") or {}:
            hosts += [h for h in self.group(child) if h not in hosts]
        return hosts


# --------------------------------------------------------------------- nodes

class Node:
    """A lab node: a container on this machine's engine, reached with testinfra."""

    def __init__(self, name, address):
        import testinfra  # only where nodes are used

        self.name = name
        self.address = address
        self.host = testinfra.get_host(f"docker://{name}")

    def __repr__(self):
        return f"Node({self.name})"

    def run(self, cmd, *args):
        return self.host.run(cmd, *args)

    def check(self, cmd, *args):
        """Run and fail with the command's output when it fails."""
        res = self.host.run(cmd, *args)
        assert res.rc == 0, f"{self.name}: `{res.command}` rc={res.rc}\n{res.stdout}\n{res.stderr}"
        return res.stdout

    def fact(self, name):
        return json.loads(self.host.file(f"/etc/ansible/facts.d/{name}.fact").content_string)

    def backend(self):
        return self.fact("overlay_backend")["backend"]

    def release(self):
        return self.check(". /etc/os-release && echo $VERSION_CODENAME").strip()

    def tools_image(self):
        """lab-tools:<release> on the node, loaded from scripts/images.sh's archive
        when missing or not the image the archive holds (its recipe changed)."""
        image = f"lab-tools:{self.release()}"
        archive = CACHE / "images" / f"lab-tools-{self.release()}.tar"
        built = archive.with_name(archive.name + ".id")
        have = self.run("docker image inspect -f '{{.Id}}' %s", image)
        if have.rc != 0 or (built.exists() and have.stdout.strip() != built.read_text().strip()):
            with open(archive, "rb") as f:
                subprocess.run(["docker", "exec", "-i", self.name, "docker", "load", "-q"], stdin=f, check=True,
                               capture_output=True, timeout=300)
        return image

    def journal(self, unit, lines=30):
        return self.run("journalctl -u %s -n %s --no-pager", unit, str(lines)).stdout

    def container_id(self):
        return docker_host("inspect", "-f", "{{.Id}}", self.name).strip()

    def power_off(self):
        """Power loss: every process in the node is killed at once, nothing is shut down."""
        docker_host("kill", self.name)

    def power_on(self):
        docker_host("start", self.name)

    def wait_booted(self, seconds=120):
        booted = retry(lambda: self.run("systemctl is-system-running").stdout.strip() in ("running", "degraded"),
                       attempts=seconds // 2, delay=2)
        assert booted, f"{self.name} did not finish booting: {self.run('systemctl --failed').stdout}"


def lab_nodes(lab=None):
    inv = Inventory(lab)
    return [Node(name, address) for name, address in inv.addresses.items()]


# ----------------------------------------------------------------- the app

APP_CONTAINER = "app"
REDIS_CONTAINER = "redis"
MESSAGE = re.compile(r"\AHello Container World! I have been seen (\d+) times and my hostname is (\S+)\.\n\Z")

# Runs on a node: GET each URL in argv[1:] in order, print [[status, body], ...] as JSON.
FETCH_ALL = """
import json, sys, urllib.error, urllib.request
out = []
for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            out.append([r.status, r.read().decode()])
    except urllib.error.HTTPError as e:
        out.append([e.code, e.read().decode()])
    except OSError as e:
        out.append([-1, repr(e)])
print(json.dumps(out))
"""


def fetch(node, *urls):
    """GET urls in order from `node` itself; [(status, body), ...]."""
    return [tuple(r) for r in json.loads(node.check("python3 -c %s " + " ".join(["%s"] * len(urls)), FETCH_ALL, *urls))]


def parse(status, body):
    """(count, hostname) of the app's answer; fails on anything else."""
    assert status == 200, f"GET / answered {status}: {body!r}"
    m = MESSAGE.match(body)
    assert m, f"GET / answered an unexpected body: {body!r}"
    return int(m.group(1)), m.group(2)


def count(node, base_url):
    """One GET / from node; the count it answered (the counter goes up by one)."""
    return parse(*fetch(node, base_url + "/")[0])[0]


def hits(redis_node):
    """The counter as redis holds it (read without incrementing)."""
    out = redis_node.check("docker exec %s redis-cli --raw get hits", REDIS_CONTAINER).strip()
    return int(out or 0)


def healthz(node, base_url):
    return fetch(node, base_url + "/healthz")[0]


def wait_healthy(node, base_url, attempts=30):
    status = retry(lambda: healthz(node, base_url)[0] == 200, attempts=attempts, delay=2)
    assert status, f"{node.name}: {base_url}/healthz never answered 200, last: {healthz(node, base_url)}"


def redis_running(redis_node):
    res = redis_node.run("docker inspect -f '{{.State.Running}} {{.State.Health.Status}}' %s", REDIS_CONTAINER)
    return res.rc == 0 and res.stdout.split() == ["true", "healthy"]


def should_run_on_demo(node):
    """Names of the node's running containers on `demo` with a restart policy that keeps them running."""
    names = []
    for cid in node.check("docker ps -aq --filter network=demo").split():
        c = json.loads(node.check("docker inspect %s", cid))[0]
        if c["HostConfig"]["RestartPolicy"]["Name"] in ("always", "unless-stopped") and c["State"]["Running"]:
            names.append(c["Name"].lstrip("/"))
    return sorted(names)


def running(node, names):
    return all(node.run("docker inspect -f '{{.State.Running}}' %s", n).stdout.strip() == "true" for n in names)


class Outsider:
    """A machine on the lab network that is not a node: a container of this machine's
    engine at a spare address of the lab network, running the node image's python3.
    The nodes' fence (roles/firewall) must keep it away from the control plane."""

    name = "lab-outsider"

    def __init__(self, release, last_octet=99):
        net = yaml.safe_load((ROOT / "inventory" / "group_vars" / "local_lab.yml").read_text())["lab_network"]
        self.address = str(ipaddress.ip_network(net["subnet"]).network_address + last_octet)
        docker_host("rm", "-f", self.name, timeout=60)
        docker_host("run", "-d", "--rm", "--name", self.name, "--network", net["name"], "--ip", self.address,
                    "--entrypoint", "sleep", f"lab-node:{release}", "1800")

    def connects(self, address, port, timeout=3):
        """True when a TCP connection to address:port is accepted within timeout seconds."""
        return subprocess.run(["docker", "exec", self.name, "python3", "-c", CONNECT, address, str(port),
                               str(timeout)], capture_output=True, timeout=timeout + 30, check=False).returncode == 0

    def send_udp(self, address, port, count=5):
        subprocess.run(["docker", "exec", self.name, "python3", "-c", SEND_UDP, address, str(port), str(count)],
                       check=True, capture_output=True, timeout=30)

    def fetch(self, url):
        return subprocess.run(["docker", "exec", self.name, "python3", "-c", FETCH, url], capture_output=True,
                              text=True, timeout=30, check=False).stdout

    def remove(self):
        docker_host("rm", "-f", self.name, timeout=60)


CONNECT = "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3])).close()"
SEND_UDP = ("import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for _ in range(int(sys.argv[3])): s.sendto(b'lab-outsider', (sys.argv[1], int(sys.argv[2])))")
FETCH = "import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"


def node_connects(node, address, port, timeout=3):
    """True when node opens a TCP connection to address:port (from its lab address when it is another node)."""
    return node.run("python3 -c %s %s %s %s", CONNECT, address, str(port), str(timeout)).rc == 0


FENCED_TCP = (2379, 2380, 7946)


def assert_fenced(outsider, nodes, node, inventory):
    """Another node reaches node's control-plane ports, the outsider does not."""
    ports = list(FENCED_TCP)
    if node.backend() == "swarm" and node.name in inventory.group("swarm_managers"):
        ports.append(2377)
    peer = next(n for n in nodes if n.name != node.name)
    for port in ports:
        assert node_connects(peer, node.address, port), f"{peer.name} cannot reach {node.name}:{port}"
        assert not outsider.connects(node.address, port), f"{outsider.address} reached {node.name}:{port}"


def docker_host(*args, timeout=180):
    """The docker CLI of this machine (the engine the nodes run on)."""
    res = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert res.returncode == 0, f"docker {' '.join(args)}: {res.stderr}"
    return res.stdout


def sh(*argv, check=True):
    """Run argv (no shell), capture text output; fail the test when check and rc != 0."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f'{argv} failed: {proc.stderr}')
    return proc


def retry(fn, attempts=15, delay=2):
    """Call fn until it returns something truthy (bounded); return its last value."""
    for _attempt in range(attempts):
        value = fn()
        if value:
            return value
        time.sleep(delay)
    return fn()


# ------------------------------------------------------------------ playbooks

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def ansible_env(**extra):
    """The environment a user has: the repo's ansible.cfg, the venv first on PATH."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               LAB_CACHE_DIR=str(CACHE), **extra)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    for var in ("ANSIBLE_ROLES_PATH", "ANSIBLE_COLLECTIONS_PATH"):
        env.pop(var, None)  # molecule's; ansible.cfg has the project's own
    return env


def ansible(tool, *args, as_json=False, timeout=900):
    """The one way the tests run Ansible: ``tool`` (ansible-playbook or ansible) from the venv, in
    the repository, with ansible_env(); as_json: the JSON callback, parsed. (rc, output, stderr),
    output being the JSON document (or {}) with as_json, else stdout and stderr together."""
    env = ansible_env(**({"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
                         if as_json else {}))
    res = subprocess.run([str(VENV_BIN / tool), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout, check=False)
    if not as_json:
        return res.returncode, res.stdout + res.stderr, res.stderr
    start = res.stdout.find("{")
    # The JSON document, then what other callbacks print (the stage recap, profile_tasks).
    data = json.JSONDecoder().raw_decode(res.stdout[start:])[0] if start >= 0 else {}
    return res.returncode, data, res.stderr


def run_playbook(playbook, *args, lab=None, inventory=None, timeout=900):
    """ansible-playbook against the lab's inventory (or another one), as a user runs it; (rc, output)."""
    rc, out, _err = ansible("ansible-playbook", "-i", str(inventory or inventory_path(lab)), str(ROOT / playbook),
                            *args, timeout=timeout)
    return rc, out


def run_playbook_json(playbook, *args, lab=None, inventory=None, timeout=900):
    """ansible-playbook with the JSON callback; (rc, parsed output, stderr)."""
    return ansible("ansible-playbook", "-i", str(inventory or inventory_path(lab)), str(ROOT / playbook), *args,
                   as_json=True, timeout=timeout)


def changed_tasks(data):
    """{(host, task): name} of every task that reported changed in a JSON-callback run. A task is
    its definition, file:line under the repository, not its name: a stand-in that borrowed the
    name of the task it stands in for would not pass for it, and a rename changes nothing."""
    return {(host, _task_path(task["task"]["path"])): task["task"]["name"]
            for play in data.get("plays", []) for task in play["tasks"]
            for host, result in task["hosts"].items() if result.get("changed")}


def _task_path(path):
    """file:line under the repository (roles of the collection are found through its path too)."""
    for root in ("/ansible_collections/lab/multihost/", f"{ROOT}/", f"{ROOT.resolve()}/"):
        if root in path:
            return path.split(root, 1)[1]
    return path


def by_name(changes):
    """{(host, task name)} of changed_tasks' result."""
    return {(host, name) for (host, _path), name in changes.items()}


def failed_tasks(data):
    """[(host, task name, message)] of every task that failed (not ignored) in a JSON-callback run."""
    return [(host, task["task"]["name"], str(result.get("msg") or result.get("stderr") or "")[:600])
            for play in data.get("plays", []) for task in play["tasks"]
            for host, result in task["hosts"].items() if result.get("failed") and not result.get("ignore_errors")]


def changes_of(playbook, *args, lab=None, inventory=None, outputs=None):
    """changed_tasks of one run of a playbook (args may hold --check --diff), which must succeed.
    outputs: a list that gets the run's whole JSON result as text (for what it must not print)."""
    rc, data, err = run_playbook_json(playbook, *args, lab=lab, inventory=inventory)
    failed = {h: s for h, s in data.get("stats", {}).items() if s.get("failures") or s.get("unreachable")}
    assert rc == 0 and not failed, (f"{playbook} {' '.join(args)} failed (rc={rc}): {failed}\n"
                                    f"{failed_tasks(data)}\n{err[-3000:]}")
    if outputs is not None:
        outputs.append(json.dumps(data) + err)
    return changed_tasks(data)


def check_then_apply(playbook, *args, lab=None, inventory=None, outputs=None):
    """Run a playbook in check mode with --diff, then for real.

    Returns (predicted, applied): changed_tasks of each, what check mode marked
    changed and what changed for real. Each run must succeed (outputs: as changes_of).
    """
    return (changes_of(playbook, "--check", "--diff", *args, lab=lab, inventory=inventory, outputs=outputs),
            changes_of(playbook, *args, lab=lab, inventory=inventory, outputs=outputs))


def assert_predicted(predicted, applied, what):
    """Check mode marked changed exactly the tasks the real run changed, and that was something."""
    assert applied, f"{what}: the real run changed nothing, the case tests nothing"
    extra = sorted((*key, predicted[key]) for key in predicted.keys() - applied.keys())
    missed = sorted((*key, applied[key]) for key in applied.keys() - predicted.keys())
    assert not extra and not missed, (f"{what}: check mode predicted {extra} that did not change, "
                                      f"and missed {missed}")


def recap(output):
    """{host: {ok, changed, unreachable, failed}} from a playbook's PLAY RECAP."""
    return {m[0]: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m[1:])))
            for m in RECAP.findall(output)}


def assert_converged(rc, output, changed=None, what="the playbook"):
    """rc 0 and failed=0 on every host; with changed=0, nothing changed either."""
    stats = recap(output)
    assert rc == 0 and stats and all(s["failed"] == 0 and s["unreachable"] == 0 for s in stats.values()), (
        f"{what} failed (rc={rc}): {stats}\n{output[-5000:]}")
    if changed == 0:
        assert all(s["changed"] == 0 for s in stats.values()), f"{what} changed something: {stats}\n{output[-5000:]}"
    return stats


def _host_result(data, host, what):
    assert data.get("plays"), f"no JSON result from {what}"
    return data["plays"][0]["tasks"][0]["hosts"][host]


def ansible_module(host, module, args, lab=None):
    """One ad hoc module run against a lab host, as `ansible HOST -m MODULE`; its result dict."""
    # Ansible takes `-a '{}'` for free-form text, which a module with options refuses: no -a then.
    _rc, data, err = ansible("ansible", host, "-i", str(inventory_path(lab)), "-m", module,
                             *(["-a", json.dumps(args)] if args else []), as_json=True, timeout=300)
    return _host_result(data, host, f"{module} on {host}: {err[-2000:]}")


def run_module(module, args, check=False, diff=True):
    """Run a module on localhost as Ansible does (ad hoc, the project's ansible.cfg); its result dict.

    module: a fully qualified name, e.g. ``lab.multihost.veth``."""
    _rc, data, err = ansible("ansible", "localhost", "-i", "localhost,", "-c", "local", "-m", module,
                             "-a", json.dumps(args), "-e", f"ansible_python_interpreter={VENV_BIN / 'python'}",
                             *(["--check"] if check else []), *(["--diff"] if diff else []), as_json=True, timeout=300)
    return _host_result(data, "localhost", f"{module}: {err[-2000:]}")


# ============================================================================
# Network namespaces on this machine (tests/integration): real namespaces,
# veths and bridges; needs root and iproute2. Every object a test makes is
# named with a random prefix ``t<6 hex>`` and removed afterwards, even on
# failure (``cleanup``); nothing else on the host is touched.
# ============================================================================

def ip_json(*args, ns=None):
    argv = ['ip'] + (['-n', ns] if ns else []) + ['-j'] + list(args)
    out = sh(*argv).stdout.strip()
    return json.loads(out) if out else []


def netns_names():
    return [e['name'] for e in ip_json('netns', 'list')]


def links(ns=None):
    return {e['ifname']: e for e in ip_json('-d', 'addr', 'show', ns=ns)}


def cleanup(prefix):
    """Remove the host links, namespaces and DOCKER-USER rules named with prefix."""
    for name in links():
        if name.startswith(prefix):
            sh('ip', 'link', 'del', name, check=False)
    for ns in netns_names():
        if ns.startswith(prefix):
            sh('ip', 'netns', 'del', ns, check=False)
    if shutil.which('iptables'):
        rules = sh('iptables', '-w', '-S', 'DOCKER-USER', check=False).stdout.splitlines()
        for rule in rules:
            if rule.startswith('-A ') and f' {prefix}' in rule:
                sh('iptables', '-w', *rule.replace('-A ', '-D ', 1).split(), check=False)
    # namespace teardown is asynchronous: wait for host peers to go
    for _attempt in range(50):
        if not [n for n in links() if n.startswith(prefix)]:
            break
        time.sleep(0.1)


def reach(src_ns, dst_ns, addr):
    """True if src_ns reaches addr (held in dst_ns): one bounded ping, or,
    without iputils-ping, a TCP connect to a one-shot python listener."""
    ping = shutil.which('ping')
    if ping:
        proc = sh('ip', 'netns', 'exec', src_ns, ping, '-c', '1', '-W', '2', addr, check=False)
        return proc.returncode == 0
    py = sys.executable
    # SO_REUSEADDR: the previous check's listener may have left 7777 in TIME_WAIT
    listener = subprocess.Popen(
        ['ip', 'netns', 'exec', dst_ns, py, '-c',
         'import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);'
         's.bind((sys.argv[1],7777));s.listen();s.settimeout(5);s.accept()', addr])
    try:
        for _attempt in range(20):
            proc = sh('ip', 'netns', 'exec', src_ns, py, '-c',
                      'import socket,sys;socket.create_connection((sys.argv[1],7777),2)', addr,
                      check=False)
            if proc.returncode == 0:
                return True
            if 'refused' not in proc.stderr:
                return False
            time.sleep(0.1)
        return False
    finally:
        listener.kill()
        listener.wait()
