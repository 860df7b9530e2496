"""The lab report's drawings and packet paths (scripts/report_model.py,
scripts/lab_report.py) from fixtures/lab.json, which `make report` wrote from
the running two-node lab (cluster-store): app on docker-node1 and redis on
docker-node2 over the overlay demo; its latest capture from fixtures/vxlan.pcap
(tests/unit/test_vxlan.py says how it was made: VNI 4242, 192.0.2.1 and
192.0.2.2 outside, 10.42.0.1 and 10.42.0.2 inside)."""

import copy
import html.parser
import json
import pathlib
import re
import xml.etree.ElementTree as ET

import lab_report
import report_model
from ansible_collections.lab.multihost.plugins.module_utils.impair import engine as impair_engine

LAB = json.loads((pathlib.Path(__file__).parent / "fixtures" / "lab.json").read_text())
PCAP = pathlib.Path(__file__).parent / "fixtures" / "vxlan.pcap"
NODE1, NODE2 = "docker-node1", "docker-node2"


def _lab():
    return copy.deepcopy(LAB)


def _demo(node):
    return next(o for o in LAB["nodes"][node]["overlays"] if o["network"] == "demo")


def _container(node, name):
    return next(c for c in LAB["nodes"][node]["containers"] if c["name"] == name)


def test_fixture_is_the_lab_with_app_and_redis_over_demo():
    assert list(LAB["nodes"]) == [NODE1, NODE2]
    assert "demo" in _container(NODE1, "app")["endpoints"] and "demo" in _container(NODE2, "redis")["endpoints"]
    assert _demo(NODE1)["vni"] == _demo(NODE2)["vni"]


def test_packet_path_hop_by_hop():
    (path,) = report_model.packet_paths(LAB)
    assert (path["src"], path["dst"], path["network"]) == ((NODE1, "app"), (NODE2, "redis"), "demo")
    app_eth0 = next(i for i in _container(NODE1, "app")["interfaces"] if i["name"] == "eth0")
    redis_eth0 = next(i for i in _container(NODE2, "redis")["interfaces"] if i["name"] == "eth0")
    hops = [(h["node"], h["device"]) for h in path["hops"]]
    assert hops == [
        (NODE1, "eth0"), (NODE1, app_eth0["peer"]["name"]), (NODE1, "br0"), (NODE1, "vxlan0"),
        (NODE1, report_model.lab_interface(LAB["nodes"][NODE1])["name"]),
        (NODE2, report_model.lab_interface(LAB["nodes"][NODE2])["name"]),
        (NODE2, "vxlan0"), (NODE2, "br0"), (NODE2, redis_eth0["peer"]["name"]), (NODE2, "eth0"),
    ]
    vni = _demo(NODE1)["vni"]
    assert f"VNI {vni}" in path["hops"][3]["detail"] and "192.168.205.11" in path["hops"][3]["detail"]
    assert "192.168.205.10 -> 192.168.205.11:4789" in path["hops"][4]["detail"]
    assert path["problems"] == []


def test_packet_path_names_a_stale_forwarding_entry():
    lab = _lab()
    redis_mac = _container(NODE2, "redis")["endpoints"]["demo"]["mac"]
    demo = next(o for o in lab["nodes"][NODE1]["overlays"] if o["network"] == "demo")
    for entry in demo["fdb"]:
        if entry["mac"] == redis_mac:
            entry["dst"] = "192.168.205.10"
    (path,) = report_model.packet_paths(lab)
    assert any("sends redis's MAC to 192.168.205.10 (docker-node1), but redis is on docker-node2" in p
               for p in path["problems"])
    demo["fdb"] = []
    (path,) = report_model.packet_paths(lab)
    assert any("no forwarding entry for redis" in p for p in path["problems"])


def test_no_path_between_containers_on_one_node():
    lab = _lab()
    lab["nodes"][NODE1]["containers"] = []
    assert report_model.packet_paths(lab) == []


def test_lab_document_from_the_playbook_input():
    results = {NODE1: {"changed": False, "topology": LAB["nodes"][NODE1]},
               NODE2: {"unreachable": True, "msg": "Failed to create temporary directory"}}
    doc = report_model.lab_document({"lab": "lab", "addresses": {NODE1: "192.168.205.10", NODE2: "192.168.205.11"},
                                     "results": results}, generated="2026-11-28T00:00:00Z")
    assert doc["schema"] == report_model.SCHEMA and list(doc["nodes"]) == [NODE1, NODE2]
    assert doc["nodes"][NODE1]["error"] is None and doc["nodes"][NODE1]["lab_address"] == "192.168.205.10"
    assert doc["nodes"][NODE2]["error"] == "Failed to create temporary directory"
    assert "not read: Failed" in lab_report.to_dot(report_model.build_graph(doc), "t")


def test_mermaid():
    text = lab_report.to_mermaid(report_model.build_graph(LAB))
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(line.strip().startswith("subgraph ") for line in lines) == sum(line.strip() == "end" for line in lines)
    for word in (NODE1, NODE2, "container app", "container redis", "vxlan0", "br-lab", "veth-test1 - veth-test2"):
        assert word in text, word
    vni = _demo(NODE1)["vni"]
    assert f'<==>|"demo: VNI {vni}, 4789/udp"|' in text


def test_dot_one_cluster_per_node_and_the_overlay_between_them():
    graph = report_model.build_graph(LAB)
    text = lab_report.to_dot(graph, "lab")
    tops = [c["id"] for c in graph.children(None)]
    assert len(tops) == 2 and all(f"subgraph cluster_{t} {{" in text for t in tops)
    vni = _demo(NODE1)["vni"]
    (overlay,) = [e for e in graph.edges if e[3] == "overlay"]
    assert overlay[2] == f"demo: VNI {vni}, 4789/udp"
    assert overlay[0].split("_")[0] != overlay[1].split("_")[0], "the overlay edge joins two nodes"
    assert f'label="demo: VNI {vni}, 4789/udp"' in text and NODE1 in text and NODE2 in text
    assert text.count("{") == text.count("}")


LAB5 = json.loads((pathlib.Path(__file__).parent / "fixtures" / "lab-5.json").read_text())


def test_five_nodes_one_lab_network_vertex_and_the_overlay_where_demo_is_used():
    """fixtures/lab-5.json: `make report NODES=5` on a lab grown from two nodes (app on docker-node1,
    redis on docker-node2): five node clusters, the lab network drawn once with an edge to each
    node's lab interface (not one between every two), demo between the two nodes that use it."""
    graph = report_model.build_graph(LAB5)
    nodes = [c for c in graph.children(None) if c["id"] != "labnet"]
    assert [c["label"].split()[0] for c in nodes] == [f"docker-node{i}" for i in range(1, 6)]
    (hub,) = [c for c in graph.children(None) if c["id"] == "labnet"]
    assert hub["vertices"] == [("labnet_sw", "lab network\n192.168.205.0/24", "uplink")]
    underlay = [e for e in graph.edges if e[3] == "underlay"]
    assert len(underlay) == 5 and all(e[1] == "labnet_sw" for e in underlay)
    assert sorted(e[0] for e in underlay) == sorted(f"n{i}_up" for i in range(5))
    (overlay,) = [e for e in graph.edges if e[3] == "overlay"]
    assert {overlay[0].split("_")[0], overlay[1].split("_")[0]} == {"n0", "n1"}
    text = lab_report.to_dot(graph, "lab")
    assert text.count("subgraph cluster_") == len(graph.clusters) and text.count("{") == text.count("}")
    svg = lab_report.render_svg(text)
    assert svg and all(f"192.168.205.{10 + i}/24" in svg for i in range(5))


def test_svg_by_graphviz():
    """Graphviz draws the report (make unit installs dot when it is missing)."""
    svg = lab_report.render_svg(lab_report.to_dot(report_model.build_graph(LAB), "lab"))
    root = ET.fromstring(svg.encode())
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert NODE1 in texts and NODE2 in texts and "4789/udp" in texts


class _Page(html.parser.HTMLParser):
    """Text and tags of a page, and whether every element it opens is closed."""

    VOID = {"meta", "br", "img", "link", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.open, self.tags, self.text, self.balanced = [], [], [], True

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.balanced = False

    def handle_data(self, data):
        self.text.append(data)


def test_html_page():
    svg = '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg"><g><text>x</text></g></svg>'
    page = lab_report.to_html(LAB, svg, report_model.packet_paths(LAB))
    parser = _Page()
    parser.feed(page)
    assert parser.balanced and not parser.open
    assert "<?xml" not in page and "<!DOCTYPE svg>" not in page and parser.tags.count("svg") == 1
    text = " ".join(parser.text)
    for word in (NODE1, NODE2, "demo", "app", "redis", "Packet paths", "VXLAN forwarding entries"):
        assert word in text, word
    section = text[text.index("app (docker-node1) to redis (docker-node2) over demo"):]
    at = 0
    for hop in report_model.packet_paths(LAB)[0]["hops"]:
        at = section.index(f'{hop["device"]}  - {hop["detail"]}', at)  # the hops in order
    assert "No picture" in lab_report.to_html(LAB, None, [])


def _impaired_lab():
    """The lab with `make impair NODE=docker-node2 DELAY=50ms LOSS=1%` read back on docker-node2
    (the engine's read-back shape, its summary written by the engine's own function)."""
    view = {"key": "host-eth0", "interface": "eth0", "namespace": None, "backend": "queue", "delay": "50ms",
            "jitter": None, "loss": "1%", "duplicate": None, "rate": None,
            "match": {"destinations": ["192.168.205.10/32"], "protocol": "udp", "port": 4789},
            "in_force": False, "problems": ["listener not running: packets pass undelayed"],
            "listener": {"pid": None, "running": False, "received": 120, "dropped": 1, "duplicated": 0, "held": 0},
            "queue": {"number": 100, "length": None, "kernel_dropped": None, "user_dropped": None},
            "fail_open_packets": 37}
    view["summary"] = impair_engine.summary(view)
    lab = _lab()
    lab["nodes"][NODE2]["impairments"] = [view]
    return lab, view


def test_an_impairment_is_drawn_on_its_link_and_listed_with_its_backend():
    lab, view = _impaired_lab()
    assert view["summary"] == ("eth0: delay 50ms loss 1% for udp/4789 to 192.168.205.10/32 (backend queue, "
                               "NOT in force: listener not running: packets pass undelayed, "
                               "37 packets passed unimpaired)")
    graph = report_model.build_graph(lab)
    uplinks = {c["label"].split()[0]: v[1] for c in graph.children(None) for v in c["vertices"] if v[2] == "uplink"}
    assert uplinks[NODE2].endswith("impaired: " + view["summary"]) and "impaired" not in uplinks[NODE1]
    assert "impaired: eth0: delay 50ms" in lab_report.to_dot(graph, "lab")
    parser = _Page()
    parser.feed(lab_report.to_html(lab, None, []))
    text = " ".join(parser.text)
    section = text[text.index("Impairments"):]
    for cell in (NODE2, "eth0", "delay 50ms loss 1%", "queue", "NOT in force: listener not running", "37"):
        assert cell in section, cell
    plain = _Page()
    plain.feed(lab_report.to_html(LAB, None, []))
    plain_text = " ".join(plain.text)
    assert "make impair" in plain_text[plain_text.index("Impairments"):], "no impairment, and how to set one"


def test_write_report(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_report, "render_svg", lambda text: '<svg xmlns="http://www.w3.org/2000/svg"/>')
    index, drawn = lab_report.write_report(LAB, tmp_path)
    assert drawn and index == tmp_path / "index.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "lab.dot", "lab.json", "lab.mmd", "lab.svg"]
    assert json.loads((tmp_path / "lab.json").read_text()) == LAB
    monkeypatch.setattr(lab_report, "render_svg", lambda text: None)
    assert lab_report.main(["--from-json", str(tmp_path / "lab.json"), "--out", str(tmp_path / "again")]) == 1
    assert not (tmp_path / "again" / "lab.svg").exists()


def _page_text(page):
    parser = _Page()
    parser.feed(page)
    assert parser.balanced and not parser.open
    return parser


def _captures(tmp_path):
    """A capture directory as make capture leaves it: an older capture and the fixture, the newest."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "20261205T080000Z.pcap").write_bytes(b"an older capture")
    (tmp_path / "20261206T195534Z.pcap").write_bytes(PCAP.read_bytes())
    return tmp_path


def test_latest_capture_is_the_newest_pcap_decoded(tmp_path):
    capture = report_model.latest_capture(_captures(tmp_path))
    assert capture["file"] == str(tmp_path / "20261206T195534Z.pcap") and capture["error"] is None
    assert len(capture["packets"]) == 6 and {r["packet"]["vni"] for r in capture["packets"]} == {4242}
    assert report_model.latest_capture(tmp_path / "none") is None
    (tmp_path / "20261207T000000Z.pcap").write_bytes(b"not a pcap")
    broken = report_model.latest_capture(tmp_path)
    assert broken["packets"] == [] and "not a pcap file" in broken["error"]


def test_capture_table_in_the_page(tmp_path):
    capture = report_model.latest_capture(_captures(tmp_path))
    lab = _lab()
    lab["nodes"][NODE1]["lab_address"] = "192.0.2.1"  # the fixture's outer addresses, one of them a node's
    for net in lab["nodes"][NODE1]["networks"]:
        if net["name"] == "demo":
            net["vni"] = 4242
    page = lab_report.to_html(lab, None, report_model.packet_paths(lab), capture)
    parser = _page_text(page)
    assert parser.tags.count("table") == 5  # nodes, networks, containers, forwarding entries, the capture
    table = page[page.index("<h2>Latest capture</h2>"):]
    assert "20261206T195534Z.pcap" in table and "6 packets" in table
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table)]
    assert rows[2] == ["2026-12-06 19:55:34.421616", "192.0.2.1 (docker-node1):46889 -&gt; 192.0.2.2:4789",
                       "4242 (demo)", "10.42.0.1 -&gt; 10.42.0.2", "echo request (8)"]
    assert rows[0][3:] == ["ARP", "-"] and rows[3][3:] == ["10.42.0.2 -&gt; 10.42.0.1", "echo reply (0)"]
    assert len(rows) == 6
    assert "make capture</code> writes one" in lab_report.to_html(LAB, None, [])
    broken = {"file": "x.pcap", "packets": [], "error": "not a pcap file"}
    assert '<p class="problem">Not read: not a pcap file</p>' in lab_report.to_html(LAB, None, [], broken)


def test_the_report_shows_the_latest_capture(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_report, "render_svg", lambda text: '<svg xmlns="http://www.w3.org/2000/svg"/>')
    lab_report.write_report(LAB, tmp_path / "report")
    assert "No capture" in (tmp_path / "report" / "index.html").read_text()
    captures = _captures(tmp_path / "capture")
    assert lab_report.main(["--from-json", str(tmp_path / "report" / "lab.json"), "--out", str(tmp_path / "again"),
                            "--captures", str(captures)]) == 0
    page = (tmp_path / "again" / "index.html").read_text()
    assert "20261206T195534Z.pcap" in page and page.count("echo request (8)") == 2
    assert json.loads((tmp_path / "again" / "lab.json").read_text()) == LAB  # the capture is not in lab.json
