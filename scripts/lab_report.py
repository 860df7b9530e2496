"""Draw the lab from what lab.multihost.lab_topology_info read on every node.

playbooks/report.yml (`make report`) runs this on the controller with the
nodes' results on stdin and writes, into --out (default .cache/report):
lab.json (the data, schema in docs/report.md), lab.mmd (Mermaid), lab.dot and
lab.svg (Graphviz `dot`), index.html (the SVG inline, tables, the packet
path between every two containers of an overlay on different nodes, the
latest capture of `make capture` decoded). It prints the path of
index.html. Pure standard library but `dot`.

usage: python3 scripts/lab_report.py [--out DIR] [--input FILE] [--from-json lab.json] [--captures DIR]
  --input FILE      the playbook's {lab, addresses, results} (default: stdin)
  --from-json FILE  draw an existing lab.json again (no nodes needed)
  --captures DIR    where make capture writes its pcap files (default: .cache/capture)
"""

import argparse
import html
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

from report_model import (
    build_graph,
    capture_rows,
    containers_by_mac,
    impairment_rows,
    lab_document,
    lab_interface,
    latest_capture,
    node_by_address,
    packet_paths,
    short,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(os.environ.get('LAB_CACHE_DIR') or ROOT / '.cache')


# ------------------------------------------------------------------ drawings

DOT_SHAPES = {'box': 'shape=box', 'bridge': 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"',
              'vxlan': 'shape=box, style="rounded,filled", fillcolor="#fde4c8"',
              'uplink': 'shape=box, style=filled, fillcolor="#e4e4e4"', 'note': 'shape=note'}
DOT_EDGES = {'veth': '', 'port': 'style=dotted', 'udp': 'style=dashed',
             'overlay': 'style=bold, color="#d9730d", penwidth=2, fontcolor="#d9730d"',
             'underlay': 'color="#777777"'}


def _dot_str(text):
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def to_dot(g, title):
    out = ['graph lab {', f'  label={_dot_str(title)}; labelloc=t; rankdir=LR; compound=true;',
           '  fontname="Helvetica"; node [fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=9];']
    for event, item, depth in g.walk():
        pad = '  ' * depth
        if event == 'open':
            out += [f'{pad}subgraph cluster_{item["id"]} {{', f'{pad}  label={_dot_str(item["label"])};']
        elif event == 'vertex':
            vid, label, shape = item
            out.append(f'{pad}{vid} [label={_dot_str(label)}, {DOT_SHAPES[shape]}];')
        else:
            out.append(f'{pad}}}')
    for a, b, label, style in g.edges:
        attrs = ', '.join(x for x in (f'label={_dot_str(label)}' if label else '', DOT_EDGES[style]) if x)
        out.append(f'  {a} -- {b}' + (f' [{attrs}]' if attrs else '') + ';')
    out.append('}')
    return '\n'.join(out) + '\n'


def _mmd_str(text):
    return '"' + html.escape(text, quote=True).replace('\n', '<br/>') + '"'


MMD_SHAPES = {'box': '[{}]', 'bridge': '([{}])', 'vxlan': '{{{{{}}}}}', 'uplink': '[/{}/]', 'note': '>{}]'}
MMD_EDGES = {'veth': '---', 'port': '-.-', 'udp': '-.-', 'overlay': '<==>', 'underlay': '---'}


def to_mermaid(g):
    out = ['flowchart LR']
    for event, item, depth in g.walk():
        pad = '  ' * depth
        if event == 'open':
            out.append(f'{pad}subgraph {item["id"]}[{_mmd_str(item["label"])}]')
        elif event == 'vertex':
            vid, label, shape = item
            out.append(f'{pad}{vid}' + MMD_SHAPES[shape].format(_mmd_str(label)))
        else:
            out.append(f'{pad}end')
    for a, b, label, style in g.edges:
        arrow = MMD_EDGES[style]
        out.append(f'  {a} {arrow}|{_mmd_str(label)}| {b}' if label else f'  {a} {arrow} {b}')
    return '\n'.join(out) + '\n'


def render_svg(dot_text, dot='dot'):
    """SVG of dot_text by Graphviz; None when `dot` is not installed."""
    exe = shutil.which(dot)
    if not exe:
        return None
    proc = subprocess.run([exe, '-Tsvg'], input=dot_text, capture_output=True, text=True, check=True, timeout=60)
    return proc.stdout


# ------------------------------------------------------------------ the page

CSS = """body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top;font-size:90%}th{background:#f0f0f0}code{font-size:95%}
.problem{color:#b00020}.picture svg{max-width:100%;height:auto}ol.path li{margin:.2em 0}"""


def _table(headers, rows):
    esc = html.escape
    head = ''.join(f'<th>{esc(h)}</th>' for h in headers)
    body = ''.join('<tr>' + ''.join(f'<td>{esc(str(v))}</td>' for v in row) + '</tr>' for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def _node_rows(lab):
    for node in lab['nodes'].values():
        up = lab_interface(node) or {}
        etcd = node.get('etcd') or {}
        healthy = [h['endpoint'] for h in etcd.get('health') or [] if h['health']]
        yield (node['name'], node['lab_address'], up.get('name', '-'),
               (node.get('backend') or {}).get('backend', '-'), (node.get('backend') or {}).get('docker_version', '-'),
               ', '.join(m['name'] for m in etcd.get('members') or []) or '-',
               f"{len(healthy)} of {len(etcd.get('health') or [])} healthy" if etcd.get('available') else '-',
               len(node.get('namespaces') or []), len(node.get('containers') or []), node.get('error') or '')


def _network_rows(lab):
    """One row per overlay, and per local network name alike on several nodes."""
    rows = {}
    for node in lab['nodes'].values():
        for net in node.get('networks') or []:
            row = [net['name'], net['driver'], net['scope'], ', '.join(s['subnet'] for s in net['subnets']) or '-',
                   net['mtu'] or '-', net['vni'] or '-']
            key = net['id'] if net['scope'] in ('global', 'swarm') else tuple(map(str, row))
            rows.setdefault(key, (row, []))[1].append(node['name'])
    for row, nodes in sorted(rows.values(), key=lambda r: (r[0][0], r[1])):
        yield row + [', '.join(nodes)]


def _container_rows(lab):
    for node in lab['nodes'].values():
        for c in node.get('containers') or []:
            for net, ep in c['endpoints'].items():
                iface = next((i for i in c['interfaces']
                              if any(a.split('/')[0] == ep['ip'] for a in i['addresses'])), None) or {}
                peer = iface.get('peer') or {}
                side = (f"{peer['name']} on {peer.get('bridge') or '-'} ({short(peer['namespace'])})"
                        if peer else '-')
                yield (node['name'], c['name'], c.get('image') or '-', net, f"{ep['ip']}/{ep['prefixlen']}"
                       if ep['ip'] else '-', ep['mac'] or '-', iface.get('name', '-'), iface.get('mtu', '-'), side)


def _fdb_rows(lab):
    macs = containers_by_mac(lab)
    for node in lab['nodes'].values():
        for ov in node.get('overlays') or []:
            for f in ov['fdb']:
                who = macs.get(f['mac'])
                dst = node_by_address(lab, f['dst'])
                yield (node['name'], ov['network'] or '-', ov['vni'], f['mac'], f['dst'],
                       dst['name'] if dst else '-', f'{who[1]} on {who[0]}' if who else '-')


def _capture_section(lab, capture):
    esc = html.escape
    parts = ['<h2>Latest capture</h2>']
    if capture is None:
        return parts + ['<p>No capture: <code>make capture</code> writes one into <code>.cache/capture/</code>.</p>']
    name = pathlib.Path(capture['file']).name
    parts.append(f'<p><code>{esc(name)}</code> (<code>make capture</code>: VXLAN packets, UDP 4789, on a '
                 f"node's lab interface while a container on demo pings one on another node), "
                 f"{len(capture['packets'])} packets.</p>")
    if capture['error']:
        return parts + [f'<p class="problem">Not read: {esc(capture["error"])}</p>']
    return parts + [_table(['time (UTC)', 'outer src -> dst', 'VNI', 'inner src -> dst', 'ICMP'],
                           capture_rows(lab, capture))]


def to_html(lab, svg, paths, capture=None):
    esc = html.escape
    name = esc(f"inventory/{lab['lab']}")
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>The lab ({name})</title>'
             f'<style>{CSS}</style></head><body>',
             f'<h1>The lab ({name}): live topology</h1>',
             f'<p>Read from the nodes by <code>lab.multihost.lab_topology_info</code> at {esc(lab["generated"])}; '
             'data in <code>lab.json</code>.</p>']
    if svg:
        parts.append('<div class="picture">' + re.sub(r'\A.*?(?=<svg)', '', svg, flags=re.S) + '</div>')
    else:
        parts.append('<p class="problem">No picture: Graphviz <code>dot</code> is not installed.</p>')
    parts += ['<h2>Nodes</h2>', _table(['node', 'lab address', 'lab interface', 'overlay backend', 'docker',
                                        'etcd members', 'etcd health', 'namespaces', 'containers', 'error'],
                                       _node_rows(lab)),
              '<h2>Docker networks</h2>', _table(['network', 'driver', 'scope', 'subnet', 'MTU', 'VNI', 'nodes'],
                                                 _network_rows(lab)),
              '<h2>Containers</h2>', _table(['node', 'container', 'image', 'network', 'address', 'MAC',
                                             'interface', 'MTU', 'other end of the veth'], _container_rows(lab)),
              '<h2>VXLAN forwarding entries</h2>',
              '<p>Where each overlay sends a remote MAC (<code>bridge fdb show dev vxlan0</code> in the '
              "overlay's namespace).</p>",
              _table(['node', 'network', 'VNI', 'MAC', 'dst', 'dst node', 'container'], _fdb_rows(lab)),
              '<h2>Packet paths</h2>']
    if not paths:
        parts.append('<p>No two containers of an overlay on different nodes.</p>')
    for path in paths:
        (na, ca), (nb, cb) = path['src'], path['dst']
        parts.append(f'<h3>{esc(ca)} ({esc(na)}) to {esc(cb)} ({esc(nb)}) over {esc(path["network"])}</h3>')
        parts.append('<ol class="path">' + ''.join(
            f'<li><b>{esc(h["node"])}</b> {esc(h["where"])}: <code>{esc(h["device"])}</code> - {esc(h["detail"])}'
            '</li>' for h in path['hops']) + '</ol>')
        parts += [f'<p class="problem">{esc(p)}</p>' for p in path['problems']]
    parts.append('<h2>Impairments</h2>')
    rows = list(impairment_rows(lab))
    parts.append(_table(['node', 'interface', 'what', 'backend', 'state', 'passed unimpaired (packets)'], rows)
                 if rows else '<p>None: <code>make impair</code> sets one on a node\'s lab link.</p>')
    parts += _capture_section(lab, capture)
    parts.append('</body></html>')
    return '\n'.join(parts) + '\n'


# ------------------------------------------------------------------ main

def write_report(lab, out, capture=None):
    """Every output of ``lab`` into directory ``out`` (``capture``: latest_capture's, shown in
    index.html); the path of index.html."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    graph = build_graph(lab)
    title = f"{', '.join(lab['nodes'])} (inventory/{lab['lab']}), read {lab['generated']}"
    dot_text = to_dot(graph, title)
    svg = render_svg(dot_text)
    files = {'lab.json': json.dumps(lab, indent=1, sort_keys=True) + '\n', 'lab.mmd': to_mermaid(graph),
             'lab.dot': dot_text, 'index.html': to_html(lab, svg, packet_paths(lab), capture)}
    if svg:
        files['lab.svg'] = svg
    for name, text in files.items():
        tmp = out / (name + '.tmp')
        tmp.write_text(text)
        os.replace(tmp, out / name)
    return out / 'index.html', svg is not None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('--out', default=str(ROOT / '.cache' / 'report'))
    src = ap.add_mutually_exclusive_group()
    src.add_argument('--input', help="the playbook's nodes' results (JSON); default stdin")
    src.add_argument('--from-json', help='an existing lab.json')
    ap.add_argument('--captures', default=str(CACHE / 'capture'), help="make capture's pcap files")
    args = ap.parse_args(argv)
    if args.from_json:
        lab = json.loads(pathlib.Path(args.from_json).read_text())
    else:
        text = pathlib.Path(args.input).read_text() if args.input else sys.stdin.read()
        lab = lab_document(json.loads(text))
    index, drawn = write_report(lab, args.out, latest_capture(args.captures))
    if not drawn:
        print('lab_report: Graphviz `dot` is missing, no lab.svg: scripts/host-package.sh dot graphviz',
              file=sys.stderr)
        return 1
    print(index)
    return 0


if __name__ == '__main__':
    sys.exit(main())
