"""The harness: the lab's systemd nodes with their names and lab addresses, each reaching every other."""

from labkit import Inventory

NODES = Inventory().addresses


def test_systemd_runs_with_no_failed_unit(host):
    state = host.run("systemctl is-system-running").stdout.strip()
    failed = host.run("systemctl list-units --failed --no-legend --plain").stdout.strip()
    assert state == "running", f"systemd is {state}; failed units:\n{failed}"
    assert failed == ""


def test_hostname_is_the_inventory_name(host):
    name = host.backend.get_hostname()
    assert host.check_output("hostname") == name


def test_node_has_its_lab_address(host):
    name = host.backend.get_hostname()
    addrs = host.check_output("ip -4 -o addr show | awk '{print $4}'").split()
    assert f"{NODES[name]}/24" in addrs


def test_nodes_reach_each_other(host):
    name = host.backend.get_hostname()
    for other, address in NODES.items():
        if other != name:
            res = host.run("ping -c 1 -W 2 %s", address)
            assert res.rc == 0, res.stdout + res.stderr


def test_no_privileged_node(host):
    # CapEff of PID 1 lacks CAP_SYS_RESOURCE (bit 24): the node is not --privileged.
    capeff = int(host.file("/proc/1/status").content_string.split("CapEff:")[1].split()[0], 16)
    assert not capeff & (1 << 24)


def test_docker_and_etcd_are_running(host):
    for unit in ("docker", "etcd"):
        svc = host.service(unit)
        assert svc.is_running, f"{unit} is not running:\n" + host.run("journalctl -u %s -n 30 --no-pager", unit).stdout
        assert svc.is_enabled
