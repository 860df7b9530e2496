"""bench/scale's pure parts: the lines it reads (lab.sh's timing, the stage recap, docker stats,
free -m, /proc), what saturated first, the ratios and the plot. The script is loaded from its
path (it has no .py); nothing runs, no engine."""

import importlib.machinery
import importlib.util
import xml.etree.ElementTree as ET

import labkit
import pytest
import yaml

_loader = importlib.machinery.SourceFileLoader("bench_scale", str(labkit.ROOT / "bench" / "scale"))
scale = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench_scale", _loader))
_loader.exec_module(scale)


def test_labs_and_lab_sh_timing_and_stage_recap():
    assert scale.parse_labs("cs2, sw3,") == [("cs2", 2, "cluster-store"), ("sw3", 3, "swarm")]
    assert scale.parse_labs("") == []
    for bad in ("cs1", "cs10", "xx2", "cs2,cs2"):
        with pytest.raises(ValueError):
            scale.parse_labs(bad)
    out = "Remove:     make lab-down\nTiming:     nodes 9 s, site.yml 94 s\n"
    assert scale.timing(out) == {"nodes_s": 9, "site_s": 94}
    assert scale.timing("no timing") == {}
    recap = "STAGE RECAP\nnothing changed\nmodule runs that reached each node: docker-node1 9, docker-node2 10\n"
    assert scale.reached(recap) == {"docker-node1": 9, "docker-node2": 10}
    assert scale.reached("PLAY RECAP") == {}


def test_pss_free_and_proc():
    rollup = ("55d0a0000000-7ffd3b7fe000 ---p 00000000 00:00 0                          [rollup]\n"
              "Rss:               10240 kB\nPss:                4321 kB\nPss_Anon:           2000 kB\n")
    assert scale.pss_kib(rollup) == 4321 and scale.pss_kib("Rss: 1 kB\n") == 0
    assert scale.parent_pid("4242 (containerd-shim (x)) S 4100 4242 4100 0 -1") == 4100
    # 10 and 20: two nodes' inits under the host's dockerd (5); 30 a process in node 10, 31 a container
    # it runs (its shim 30's child), 40 in node 20; 50 the host's own.
    parents = {1: 0, 5: 1, 10: 5, 20: 5, 30: 10, 31: 30, 40: 20, 50: 1}
    assert scale.owners(parents, {10: "n1", 20: "n2"}) == {10: "n1", 30: "n1", 31: "n1", 20: "n2", 40: "n2"}
    free = ("               total        used        free      shared  buff/cache   available\n"
            "Mem:           24036        3120       15000          12        6000       20916\n"
            "Swap:              0           0           0\n")
    assert scale.free_used(free) == {"total": 24036, "used": 3120, "available": 20916}
    info = scale.meminfo("MemTotal:       24612864 kB\nMemAvailable:   20000000 kB\nHugePages_Total:       0\n")
    assert info == {"MemTotal": 24036, "MemAvailable": 19531, "HugePages_Total": 0}
    before = scale.cpu_times("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n")
    after = scale.cpu_times("cpu  250 0 150 740 110 0 0 0 0 0\n")
    assert before == (800, 1000) and scale.busy(before, after) == pytest.approx(0.8)
    assert scale.log_time("2026-12-06T10:00:01.123456789Z systemd[1]: x") == (1796551201, "systemd[1]: x")


def test_saturation_names_what_came_first():
    samples = [{"t": float(t), "busy": 0.99 if t >= 3 else 0.5, "load1": 2.0 + t, "mem_available_mib": 20000,
                "swap_used_mib": 0} for t in range(1, 12)]
    events = [(40.0, "docker-node6", "Failed to allocate directory watch: Too many open files")]
    found = scale.saturation(samples, events, 24000)
    assert found["first"] == "cpu" and found["cpu"]["t"] == 3.0 and found["limit"]["where"] == "docker-node6"
    assert found["memory"] is None and found["peak_load1"] == 13.0
    early = scale.saturation(samples, [(1.0, "make lab", "etcdserver: request timed out")], 24000)
    assert early["first"] == "limit"
    assert scale.saturation([], [], 24000)["first"] is None


def _lab(name, n, backend, cold, rerun, rt):
    return {"name": name, "nodes": n, "backend": backend, "cold_s": cold, "rerun_median_s": rerun,
            "round_trip_s": rt}


def test_ratios_aim_and_plot():
    labs = [_lab("cs2", 2, "cluster-store", 110, 9.0, 0.25), _lab("cs5", 5, "cluster-store", 250, 22.0, 0.5),
            _lab("sw2", 2, "swarm", 112, 9.5, 0.26)]
    rows = {r["lab"] + "/" + r["against"]: r for r in scale.ratios(labs)}
    assert rows["cs5/cs2"]["rerun"] == pytest.approx(2.444, abs=1e-3) and rows["cs5/cs2"]["round_trip"] == 2.0
    assert rows["cs5/cs2"]["aim_met"] is False  # 2.44 > 1.10 x 2.0
    assert rows["sw2/cs2"]["aim_met"] is None
    assert len(yaml.safe_load(scale.ping_playbook(20))[0]["tasks"]) == 20
    assert yaml.safe_load(scale.ping_playbook(0))[0]["tasks"] == []
    drawing = ET.fromstring(scale.svg({"labs": labs, "try": {"nodes": 7, "rc": 0, "wall_s": 400.0}}))
    assert len(drawing.findall("{http://www.w3.org/2000/svg}polyline")) == 5  # cold x2, re-run x2, dashed cs
