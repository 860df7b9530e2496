"""Every listening socket of a node is in docs/security.md's table, and the table's services listen."""

import ipaddress
import pathlib
import re

from labkit import Inventory

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "security.md"
INVENTORY = Inventory()
# Rows whose process runs on the node and is always up: missing from `ss` is a failure too.
ALWAYS_UP = {"etcd", "dockerd", "docker-proxy"}
NO_OWNER = {"kernel", "outside the node"}


def _rows():
    """The table under '## Listening sockets' as dicts keyed by its header."""
    section = DOC.read_text().split("## Listening sockets", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    header, rows = cells[0], cells[2:]
    return [dict(zip(header, row)) for row in rows]


def _applies(row, name, backend):
    return name in INVENTORY.group(row["on"]) and row["backend"] in ("both", backend)


def _address_matches(kind, addr, lab_address):
    if kind == "lab address":
        return addr == lab_address
    if kind == "loopback":
        return addr in ("127.0.0.1", "::1")
    if kind == "any":
        return addr in ("0.0.0.0", "*", "::")
    return addr == kind


def _port_matches(kind, port):
    return port >= 32768 if kind == "ephemeral" else port == int(kind)


def _owner_matches(process, users):
    return users == "" if process in NO_OWNER else f'(("{process}",' in users


def _match(row, sock, lab_address):
    proto, addr, port, users = sock
    return (row["proto"] == proto and _address_matches(row["address"], addr, lab_address)
            and _port_matches(row["port"], port) and _owner_matches(row["process"], users))


def _node(host):
    """Name, lab address and the table rows that apply to this node."""
    name = host.backend.get_hostname()
    fact = host.file("/etc/ansible/facts.d/overlay_backend.fact").content_string
    backend = re.search(r'"backend":\s*"([^"]+)"', fact)[1]
    return name, INVENTORY.addresses[name], [r for r in _rows() if _applies(r, name, backend)]


def _sockets(host):
    """(proto, address, port, users) of every listening TCP and bound UDP socket."""
    out = host.check_output("ss -Hltnup")
    found = []
    for line in out.splitlines():
        fields = line.split()
        addr, port = fields[4].rsplit(":", 1)
        addr = addr.strip("[]").split("%")[0]
        users = " ".join(fields[6:])
        found.append((fields[0], str(ipaddress.ip_address(addr)) if addr != "*" else addr, int(port), users))
    return found


def test_every_listener_is_in_the_inventory(host):
    name, lab_address, rows = _node(host)
    unlisted = [s for s in _sockets(host) if not any(_match(r, s, lab_address) for r in rows)]
    assert not unlisted, f"{name}: listening but not in docs/security.md: {unlisted}"


def test_every_listed_service_listens(host):
    name, lab_address, rows = _node(host)
    sockets = _sockets(host)
    missing = [
        (r["proto"], r["address"], r["port"], r["process"])
        for r in rows
        if r["process"] in ALWAYS_UP and not any(_match(r, s, lab_address) for s in sockets)
    ]
    assert not missing, f"{name}: in docs/security.md but not listening: {missing}"
