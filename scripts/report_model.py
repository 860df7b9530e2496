"""The lab report's model: lab.json from the nodes' lab_topology_info
results, the packet path between containers of an overlay on different
nodes, the graph both drawings (DOT, Mermaid) show, and the latest capture
of `make capture` decoded (scripts/vxlan.py). Pure standard library, no
Ansible: scripts/lab_report.py writes the files."""

import datetime
import ipaddress
import itertools
import pathlib

import vxlan

SCHEMA = 1


# ------------------------------------------------------------------ the data

def lab_document(data, generated=None):
    """lab.json from the playbook's {lab, addresses: {node: address}, results: {node: module result}}."""
    nodes = {}
    for name, address in data['addresses'].items():
        result = (data.get('results') or {}).get(name) or {}
        topo = result.get('topology')
        error = None if topo else (result.get('msg') or 'no answer from the node')
        nodes[name] = dict(topo or {}, name=name, lab_address=address, error=error)
    when = generated or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    return {'schema': SCHEMA, 'lab': data.get('lab'), 'generated': when, 'nodes': nodes}


def short(ns_id):
    """A namespace's short name: Docker's paths by their last part."""
    return ns_id.rsplit('/', 1)[-1]


def lab_interface(node):
    """The host interface holding the node's lab address, or None."""
    for ns in node.get('namespaces') or []:
        if ns['kind'] == 'host':
            for link in ns['links']:
                if any(a.split('/')[0] == node['lab_address'] for a in link['addresses']):
                    return link
    return None


def node_by_address(lab, address):
    return next((n for n in lab['nodes'].values() if n['lab_address'] == address), None)


def containers_by_mac(lab):
    """{mac: (node, container, network)} over every node."""
    out = {}
    for node in lab['nodes'].values():
        for c in node.get('containers') or []:
            for net, ep in c['endpoints'].items():
                if ep.get('mac'):
                    out[ep['mac']] = (node['name'], c['name'], net)
    return out


def overlay_networks(lab):
    """{name: {vni, port, mtu, subnets, nodes: [node names]}} of the overlays seen on the nodes."""
    out = {}
    for node in lab['nodes'].values():
        for net in node.get('networks') or []:
            if net['driver'] != 'overlay':
                continue
            entry = out.setdefault(net['name'], {'vni': None, 'port': None, 'mtu': None, 'nodes': [],
                                                 'subnets': [s['subnet'] for s in net['subnets']]})
            ov = next((o for o in node.get('overlays') or [] if o['network'] == net['name']), None)
            entry['vni'] = entry['vni'] or net['vni'] or (ov or {}).get('vni')
            entry['mtu'] = entry['mtu'] or net['mtu']
            if ov:
                entry['port'] = ov['port']
                entry['nodes'].append(node['name'])
    return out


# -------------------------------------------------------------- packet paths

def _attachment(node, container, network):
    """(interface, overlay) by which ``container`` is on overlay ``network``."""
    ep = container['endpoints'].get(network) or {}
    iface = next((i for i in container['interfaces']
                  if any(a.split('/')[0] == ep.get('ip') for a in i['addresses'])), None)
    ns = ((iface or {}).get('peer') or {}).get('namespace')
    overlay = next((o for o in node.get('overlays') or [] if o['namespace'] == ns), None)
    return iface, overlay


def packet_path(lab, src, dst, network):
    """Hops from container src to container dst over overlay ``network``.

    src, dst: (node name, container name). Each hop: {node, where, device,
    detail}; ``problems`` lists what the nodes' state contradicts."""
    hops, problems = [], []
    (na, ca), (nb, cb) = src, dst
    node_a, node_b = lab['nodes'][na], lab['nodes'][nb]
    cont_a = next(c for c in node_a['containers'] if c['name'] == ca)
    cont_b = next(c for c in node_b['containers'] if c['name'] == cb)
    ep_a, ep_b = cont_a['endpoints'][network], cont_b['endpoints'][network]
    if_a, ov_a = _attachment(node_a, cont_a, network)
    if_b, ov_b = _attachment(node_b, cont_b, network)
    up_a, up_b = lab_interface(node_a), lab_interface(node_b)
    if not (if_a and ov_a and if_b and ov_b and up_a and up_b):
        return {'src': src, 'dst': dst, 'network': network, 'hops': [],
                'problems': ['incomplete data: a container interface, overlay namespace or lab interface is missing']}
    vni, port = ov_a['vni'], ov_a['port']
    hops.append({'node': na, 'where': f'container {ca}', 'device': if_a['name'],
                 'detail': f"{ep_a['ip']}/{ep_a['prefixlen']}, MAC {ep_a['mac']}, MTU {if_a['mtu']}"})
    hops.append({'node': na, 'where': f'overlay namespace {short(ov_a["namespace"])}',
                 'device': if_a['peer']['name'], 'detail': f"the other end of {ca}'s {if_a['name']}, "
                                                           f"port of {ov_a['bridge']}"})
    hops.append({'node': na, 'where': f'overlay namespace {short(ov_a["namespace"])}', 'device': ov_a['bridge'],
                 'detail': f"bridge of {network} ({', '.join(ov_a['gateway']) or 'no address'}), "
                           f"sends {ep_b['mac']} to {ov_a['vxlan']}"})
    fdb = next((f for f in ov_a['fdb'] if f['mac'] == ep_b['mac']), None)
    if fdb is None:
        where_to = 'no forwarding entry for ' + ep_b['mac']
        problems.append(f'{na}: {ov_a["vxlan"]} has no forwarding entry for {cb} ({ep_b["mac"]})')
    else:
        where_to = f"forwarding entry {fdb['mac']} dst {fdb['dst']}"
        if fdb['dst'] != node_b['lab_address']:
            other = node_by_address(lab, fdb['dst'])
            problems.append(f"{na}: {ov_a['vxlan']} sends {cb}'s MAC to {fdb['dst']} "
                            f"({other['name'] if other else 'no lab node'}), but {cb} is on {nb}")
    hops.append({'node': na, 'where': f'overlay namespace {short(ov_a["namespace"])}', 'device': ov_a['vxlan'],
                 'detail': f'VXLAN VNI {vni}, {where_to}'})
    hops.append({'node': na, 'where': 'host', 'device': up_a['name'],
                 'detail': f"UDP {node_a['lab_address']} -> {node_b['lab_address']}:{port}, VNI {vni}"})
    hops.append({'node': nb, 'where': 'host', 'device': up_b['name'],
                 'detail': f"receives UDP :{port} on {node_b['lab_address']}"})
    hops.append({'node': nb, 'where': f'overlay namespace {short(ov_b["namespace"])}', 'device': ov_b['vxlan'],
                 'detail': f'VXLAN VNI {ov_b["vni"]}, decapsulates'})
    if ov_b['vni'] != vni:
        problems.append(f'VNI of {network} differs: {vni} on {na}, {ov_b["vni"]} on {nb}')
    hops.append({'node': nb, 'where': f'overlay namespace {short(ov_b["namespace"])}', 'device': ov_b['bridge'],
                 'detail': f'bridge of {network}'})
    hops.append({'node': nb, 'where': f'overlay namespace {short(ov_b["namespace"])}',
                 'device': if_b['peer']['name'], 'detail': f"the other end of {cb}'s {if_b['name']}"})
    hops.append({'node': nb, 'where': f'container {cb}', 'device': if_b['name'],
                 'detail': f"{ep_b['ip']}/{ep_b['prefixlen']}, MAC {ep_b['mac']}"})
    return {'src': src, 'dst': dst, 'network': network, 'hops': hops, 'problems': problems}


def packet_paths(lab):
    """packet_path for every two containers of an overlay on different nodes."""
    out = []
    for network in sorted(overlay_networks(lab)):
        members = [(n['name'], c['name']) for n in lab['nodes'].values()
                   for c in n.get('containers') or [] if network in c['endpoints']]
        for a, b in itertools.combinations(members, 2):
            if a[0] != b[0]:
                out.append(packet_path(lab, a, b, network))
    return out


# ------------------------------------------------------------------ the capture

def latest_capture(directory):
    """The newest pcap `make capture` wrote into directory (names are UTC times), decoded:
    {file, packets: vxlan.decode_pcap rows, error}; None when there is none."""
    files = sorted(pathlib.Path(directory).glob('*.pcap')) if directory else []
    if not files:
        return None
    try:
        return {'file': str(files[-1]), 'packets': vxlan.decode_pcap(files[-1].read_bytes()), 'error': None}
    except (OSError, ValueError) as exc:
        return {'file': str(files[-1]), 'packets': [], 'error': str(exc)}


def capture_rows(lab, capture):
    """(time, outer src -> dst, VNI, inner src -> dst, ICMP) of each packet of a capture;
    node addresses named after their node, a VNI after the overlay of the lab that has it."""
    def node(address):
        found = node_by_address(lab, address)
        return f"{address} ({found['name']})" if found else address

    overlays = {info['vni']: name for name, info in overlay_networks(lab).items() if info['vni'] is not None}
    for row in capture['packets']:
        when = datetime.datetime.fromtimestamp(row['time'], datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')
        pkt = row['packet']
        if pkt is None:
            yield (when, f"not VXLAN: {row['error']}", '-', '-', '-')
            continue
        vni = f"{pkt['vni']} ({overlays[pkt['vni']]})" if pkt['vni'] in overlays else str(pkt['vni'])
        yield (when, f"{node(pkt['src'])}:{pkt['sport']} -> {node(pkt['dst'])}:{pkt['dport']}", vni,
               vxlan.inner_summary(pkt), vxlan.icmp_summary(pkt))


# ------------------------------------------------------------- impairments

def impairment_lines(node, namespace, interface):
    """The lines drawn on a link for the impairments the node holds on it."""
    return [f"impaired: {imp.get('summary')}"
            for imp in node.get('impairments') or []
            if imp.get('interface') == interface and (imp.get('namespace') or None) == namespace]


def impairment_rows(lab):
    """(node, where, what, backend, state, fail-open packets) of every impairment in the lab."""
    for node in lab['nodes'].values():
        for imp in node.get('impairments') or []:
            if imp.get('error'):
                yield node['name'], '-', f"not read: {imp['error']}", '-', '-', '-'
                continue
            where = f"{imp.get('namespace') + '/' if imp.get('namespace') else ''}{imp.get('interface')}"
            problems = '; '.join(imp.get('problems') or [])
            yield (node['name'], where, imp.get('summary'), imp.get('backend', '?'),
                   'in force' if imp.get('in_force') else f'NOT in force: {problems}',
                   str(imp.get('fail_open_packets') or 0))


# ------------------------------------------------------------------ the graph

class Graph:
    """What both drawings show: clusters (nested) of vertices, and edges."""

    def __init__(self):
        self.clusters = []  # {id, label, parent, vertices: [(id, label, shape)]}
        self.edges = []     # (a, b, label, style)

    def cluster(self, cid, label, parent=None):
        c = {'id': cid, 'label': label, 'parent': parent, 'vertices': []}
        self.clusters.append(c)
        return c

    def children(self, cid):
        return [c for c in self.clusters if c['parent'] == cid]

    def walk(self, parent=None, depth=1):
        """(event, item, depth) in drawing order: 'open' and 'close' of each
        cluster, and between them a 'vertex' for each of its vertices."""
        for c in self.children(parent):
            yield 'open', c, depth
            for v in c['vertices']:
                yield 'vertex', v, depth + 1
            yield from self.walk(c['id'], depth + 1)
            yield 'close', c, depth


def _bridge_networks(node):
    """{bridge device: Docker network name} of the node's bridge networks."""
    return {net['bridge'] or 'br-' + net['id'][:12]: net['name']
            for net in node['networks'] if net['driver'] == 'bridge'}


def _title(node, ns):
    if ns['kind'] == 'overlay':
        net = next((o['network'] for o in node['overlays'] if o['namespace'] == ns['id']), None)
        return f"overlay {net or '?'} {short(ns['id'])}"
    if ns['kind'] == 'container':
        return f"container {ns['container']}"
    return f"netns {short(ns['id'])}"


def _draw_devices(g, holder, node, ns, q, where):
    """Bridges and VXLAN devices of namespace ns as vertices of cluster holder;
    a bridge stands for its ports too. [(vertex, overlay network)] of the VXLANs."""
    names = _bridge_networks(node) if ns['kind'] == 'host' else {}
    for k, br in enumerate(link for link in ns['links'] if link['kind'] == 'bridge'):
        vid = f'{q}_b{k}'
        net = names.get(br['name'])
        title = f"{br['name']} ({net})" if net and net != br['name'] else br['name']
        holder['vertices'].append((vid, '\n'.join([title] + br['addresses'] + [f"MTU {br['mtu']}"]), 'bridge'))
        where[(ns['id'], br['name'])] = vid
        for port in ns['links']:
            if port['master'] == br['name']:
                where[(ns['id'], port['name'])] = vid
    out = []
    for k, dev in enumerate(link for link in ns['links'] if link['kind'] == 'vxlan'):
        vid = f'{q}_x{k}'
        holder['vertices'].append((vid, f"{dev['name']}\nVNI {dev['vni']}, {dev['port']}/udp", 'vxlan'))
        if (ns['id'], dev['master']) in where:
            g.edges.append((where[(ns['id'], dev['master'])], vid, '', 'port'))
        ov = next((o for o in node['overlays'] if o['namespace'] == ns['id'] and o['vxlan'] == dev['name']), {})
        out.append((vid, ov.get('network')))
    return out


def build_graph(lab):
    """One cluster per node: its bridges, lab interface, containers and
    namespaces (those holding a bridge or VXLAN device as clusters of their
    own), veth pairs as edges; the overlays drawn between the nodes' VXLAN
    devices, the lab network between their lab interfaces."""
    g = Graph()
    vx = {}  # (node, overlay network) -> vertex of its VXLAN device
    lab_if = {}  # node -> vertex of its lab interface
    for i, node in enumerate(lab['nodes'].values()):
        p = f'n{i}'
        backend = (node.get('backend') or {}).get('backend', 'backend ?')
        top = g.cluster(p, f"{node['name']}  {node['lab_address']}  ({backend})")
        if node.get('error'):
            top['vertices'].append((f'{p}_err', f"not read: {node['error']}", 'note'))
            continue
        where = {}  # (namespace, link) -> vertex standing for it
        devices = []
        for j, ns in enumerate(node['namespaces']):
            q = f'{p}_s{j}'
            if ns['kind'] != 'host' and not any(link['kind'] in ('bridge', 'vxlan') for link in ns['links']):
                ifaces = [f"{link['name']} {' '.join(link['addresses'])}".strip()
                          for link in ns['links'] if link['name'] != 'lo']
                top['vertices'].append((q, '\n'.join([_title(node, ns)] + ifaces), 'box'))
                where.update({(ns['id'], link['name']): q for link in ns['links']})
                continue
            holder = top if ns['kind'] == 'host' else g.cluster(q, _title(node, ns), parent=p)
            devices += _draw_devices(g, holder, node, ns, q, where)
        up = lab_interface(node)
        if up:
            lab_if[node['name']] = f'{p}_up'
            lines = [f"{up['name']} {' '.join(up['addresses'])}", 'lab network']
            lines += impairment_lines(node, None, up['name'])
            top['vertices'].append((f'{p}_up', '\n'.join(lines), 'uplink'))
        for k, imp in enumerate(i for i in node.get('impairments') or [] if i.get('namespace')):
            # An impairment inside a namespace: a note beside the namespace's drawing.
            lines = impairment_lines(node, imp['namespace'], imp['interface'])
            top['vertices'].append((f'{p}_imp{k}', '\n'.join(lines), 'note'))
        for a, b in node['veth_pairs']:
            va, vb = where.get((a['namespace'], a['name'])), where.get((b['namespace'], b['name']))
            if va and vb:
                g.edges.append((va, vb, f"{a['name']} - {b['name']}", 'veth'))
        for vid, net in devices:
            if up:
                g.edges.append((vid, lab_if[node['name']], '', 'udp'))
            if net:
                vx[(node['name'], net)] = vid
    for net, info in sorted(overlay_networks(lab).items()):
        for a, b in itertools.combinations(info['nodes'], 2):
            if (a, net) in vx and (b, net) in vx:
                g.edges.append((vx[(a, net)], vx[(b, net)], f"{net}: VNI {info['vni']}, {info['port']}/udp",
                                'overlay'))
    if len(lab_if) > 2:
        # More than two nodes: one vertex for the lab network, not an edge between every two.
        g.cluster('labnet', 'lab network')['vertices'].append(('labnet_sw', lab_network_label(lab), 'uplink'))
        for name in sorted(lab_if):
            g.edges.append((lab_if[name], 'labnet_sw', '', 'underlay'))
        return g
    for a, b in itertools.combinations(sorted(lab_if), 2):
        g.edges.append((lab_if[a], lab_if[b], 'lab network', 'underlay'))
    return g


def lab_network_label(lab):
    """The lab network's subnet(s), from the nodes' lab interfaces."""
    nets = set()
    for node in lab['nodes'].values():
        up = lab_interface(node) if not node.get('error') else None
        for address in (up or {}).get('addresses') or []:
            if address.split('/')[0] == node['lab_address']:
                nets.add(str(ipaddress.ip_interface(address).network))
    return '\n'.join(['lab network'] + sorted(nets))
