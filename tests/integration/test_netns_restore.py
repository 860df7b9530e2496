"""netns-lab at boot: the engine, installed as the netns_lab role installs it (a copy of the
collection's files on a bare python3 path), rebuilds the recorded topologies; a second
run finds them as recorded. Real namespaces, as root."""

import json
import pathlib
import shutil
import sys

from labkit import netns_names, reach, retry, sh

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _install(tmp_path):
    """The role's layout: only the engine's package, under ansible_collections/ on PYTHONPATH."""
    lib = tmp_path / "lib"
    dest = lib / "ansible_collections" / "lab" / "multihost" / "plugins" / "module_utils"
    dest.mkdir(parents=True)
    shutil.copytree(ROOT / "plugins" / "module_utils" / "netns", dest / "netns",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return lib


def _restore(lib, record):
    return sh("env", "-i", f"PYTHONPATH={lib}", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", sys.executable, "-m",
              "ansible_collections.lab.multihost.plugins.module_utils.netns.engine", "--restore", str(record),
              check=False)


def _pair_and_bridge(prefix):
    return [
        {"name": "pair", "namespaces": [prefix + "t1", prefix + "t2"], "bridges": [],
         "veths": [{"name": prefix + "v1", "namespace": prefix + "t1", "address": "192.168.91.1/24",
                    "peer": prefix + "v2", "peer_namespace": prefix + "t2", "peer_address": "192.168.91.2/24"}],
         "checks": [{"namespace": prefix + "t1", "address": "192.168.91.2"}]},
        {"name": "bridged", "namespaces": [prefix + "sw", prefix + "b1", prefix + "b2"],
         "bridges": [{"name": prefix + "br", "namespace": prefix + "sw", "stp": False}],
         "veths": [{"name": "eth0", "namespace": f"{prefix}b{i}", "address": f"10.91.0.{i}/24",
                    "peer": f"{prefix}p{i}", "peer_namespace": prefix + "sw", "peer_bridge": prefix + "br"}
                   for i in (1, 2)]},
    ]


def test_restore_rebuilds_the_record_then_finds_it_as_recorded(prefix, tmp_path):
    lib = _install(tmp_path)
    record = tmp_path / "netns-lab.json"
    record.write_text(json.dumps(_pair_and_bridge(prefix)))
    proc = _restore(lib, record)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("netns-lab: pair: "), proc.stdout
    assert {prefix + n for n in ("t1", "t2", "sw", "b1", "b2")} <= set(netns_names())
    assert reach(prefix + "t1", prefix + "t2", "192.168.91.2")
    assert reach(prefix + "b1", prefix + "b2", "10.91.0.2")

    again = _restore(lib, record)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["netns-lab: pair: as recorded", "netns-lab: bridged: as recorded"]


def test_restore_repairs_a_deleted_namespace(prefix, tmp_path):
    lib = _install(tmp_path)
    record = tmp_path / "netns-lab.json"
    record.write_text(json.dumps(_pair_and_bridge(prefix)[:1]))
    assert _restore(lib, record).returncode == 0
    sh("ip", "netns", "del", prefix + "t2")
    # The kernel destroys a deleted namespace's veths asynchronously; until it has, the surviving
    # end has a peer nowhere, which the engine rightly refuses.
    assert retry(lambda: sh("ip", "-n", prefix + "t1", "link", "show", prefix + "v1", check=False).returncode,
                 attempts=50, delay=0.1), "the surviving veth end outlived its peer's namespace"
    proc = _restore(lib, record)
    assert proc.returncode == 0, proc.stderr
    assert "operations" in proc.stdout, proc.stdout
    assert reach(prefix + "t1", prefix + "t2", "192.168.91.2")


def test_no_record_is_nothing_to_do_and_a_bad_one_fails_clearly(tmp_path):
    lib = _install(tmp_path)
    missing = _restore(lib, tmp_path / "none.json")
    assert (missing.returncode, missing.stdout) == (0, "")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x", "namespaces": ["bad name with spaces"]}]))
    proc = _restore(lib, bad)
    assert proc.returncode == 1 and proc.stderr.startswith("netns-lab: "), proc.stderr
    usage = sh("env", f"PYTHONPATH={lib}", sys.executable, "-m",
               "ansible_collections.lab.multihost.plugins.module_utils.netns.engine", check=False)
    assert usage.returncode == 2 and "usage:" in usage.stderr
