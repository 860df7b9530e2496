"""A bad input stops site.yml on the controller, before fact gathering, naming the variable.

The inventory has the lab's groups and shared settings (inventory/group_vars/all)
but hosts that cannot be reached: ssh to 127.0.0.1 port 1, refused at once on
loopback; their lab_address values (192.0.2.0/24, TEST-NET-1) are never
contacted. Each bad input must be refused by the first play of
playbooks/preflight.yml: rc != 0, the message names the variable, no host is
unreachable, nothing changed and the next play (fact gathering) never starts.
With no bad input the same run fails UNREACHABLE: so the refusals came before
any connection. No root, no Docker, no lab; the cases run side by side.
"""

import concurrent.futures
import json
import shutil

import labkit
import pytest
import yaml

HOSTS = {"lab-unreachable-1": "192.0.2.10", "lab-unreachable-2": "192.0.2.11"}
FIRST, SECOND = HOSTS

# (case, -e value, what the refusal says: it names the variable)
REFUSED = [
    ("app_workers=abc", "app_workers=abc", "app_workers: must be of type int"),
    ("app_workers=0", "app_workers=0", "app_workers: must be 1 or more; got 0."),
    ("app_port=70000", "app_port=70000", "app_port: must be from 1 to 65535; got 70000."),
    ("overlay_backend_mode=foo", "overlay_backend_mode=foo",
     "overlay_backend_mode: must be one of auto, cluster-store, swarm; got foo."),
    ("redis_appendfsync=sometimes", "redis_appendfsync=sometimes",
     "redis_appendfsync: must be one of always, everysec, no; got sometimes."),
    ("etcd_client_port=99999", "etcd_client_port=99999", "etcd_client_port: must be from 1 to 65535; got 99999."),
    ("lab_tls=maybe", "lab_tls=maybe", "lab_tls: must be true or false; got maybe."),
    ("subnet /33", json.dumps({"networks_list": [{"name": "demo", "driver": "overlay", "subnet": "10.0.0.0/33"}]}),
     "networks_list[demo].subnet: must be IPv4 CIDR a.b.c.d/n, n from 0 to 32; got 10.0.0.0/33."),
    ("unknown driver", json.dumps({"networks_list": [{"name": "demo", "driver": "vxlan"}]}),
     "networks_list: driver must be one of overlay, bridge; got vxlan."),
]
CONTROL = ""  # no bad input
FIRST_PLAY = "PLAY [Check the inputs before contacting any node]"
SECOND_PLAY = "PLAY [Check the lab before changing anything]"


def _inventory(path):
    """The lab's groups (as inventory/lab has them) over hosts no run can reach."""
    nodes = {name: {"lab_address": address} for name, address in HOSTS.items()}
    hosts = {"all": {
        "vars": {"lab_name": "unreachable", "ansible_connection": "ssh", "ansible_host": "127.0.0.1",
                 "ansible_port": 1},
        "children": {
            "nodes": {"hosts": nodes},
            "docker": {"children": {"nodes": None}},
            "etcd": {"children": {"nodes": None}},
            "swarm_managers": {"hosts": {FIRST: None}},
            "swarm_workers": {"hosts": {SECOND: None}},
            "app": {"hosts": {FIRST: None}},
            "redis": {"hosts": {SECOND: None}},
        }}}
    path.mkdir()
    (path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (path / "group_vars").mkdir()
    (path / "group_vars" / "all").symlink_to(labkit.ROOT / "inventory" / "group_vars" / "all")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{-e value: (rc, output)} of site.yml, every case at once."""
    inventory = _inventory(tmp_path_factory.mktemp("early-refusal") / "inventory")
    cases = [extra for _case, extra, _says in REFUSED] + [CONTROL]

    def run(extra):
        return labkit.run_playbook("site.yml", *(["-e", extra] if extra else []), inventory=inventory, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases)) as pool:
        return dict(zip(cases, pool.map(run, cases)))


@pytest.mark.parametrize(("extra", "says"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_refused_before_any_node_is_contacted(runs, extra, says):
    rc, out = runs[extra]
    stats = labkit.recap(out)
    assert rc != 0 and set(stats) == set(HOSTS), f"-e {extra}: rc={rc} {stats}\n{out[-4000:]}"
    assert says in out, f"-e {extra}: the refusal does not say '{says}'\n{out[-4000:]}"
    assert all(s["failed"] == 1 and s["unreachable"] == 0 and s["changed"] == 0 for s in stats.values()), (
        f"-e {extra}: {stats}\n{out[-4000:]}")
    assert "UNREACHABLE!" not in out, f"-e {extra}: a node was contacted\n{out[-4000:]}"
    assert FIRST_PLAY in out and SECOND_PLAY not in out and "Gathering Facts" not in out, (
        f"-e {extra}: not refused by the first play, before fact gathering\n{out[-4000:]}")


def test_without_a_bad_input_the_same_hosts_are_unreachable(runs):
    """The control: the inventory passes the inputs' check and its hosts are unreachable."""
    if not shutil.which("ssh"):
        pytest.skip("no ssh client: the hosts fail to connect without being reported unreachable")
    rc, out = runs[CONTROL]
    stats = labkit.recap(out)
    assert rc != 0 and set(stats) == set(HOSTS), f"rc={rc} {stats}\n{out[-4000:]}"
    assert all(s["unreachable"] == 1 and s["failed"] == 0 and s["changed"] == 0 for s in stats.values()), (
        f"{stats}\n{out[-4000:]}")
    assert SECOND_PLAY in out and "UNREACHABLE!" in out, out[-4000:]
