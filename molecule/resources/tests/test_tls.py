"""etcd and the cluster store over mutual TLS with the lab's CA (roles/pki).

From a node, the same probe speaks plain HTTP, TLS without a client
certificate, TLS with a client certificate from another CA, and TLS with the
node's own client certificate: only the last gets an answer. A server whose
certificate chains to the lab's CA but names another address is refused by
etcdctl. The probe's own success with the lab's certificate shows that each
refusal is the refusal, not a broken probe.
"""

import datetime
import ipaddress
import json
import subprocess
import time

import pytest
from labkit import (
    CACHE,
    Inventory,
    assert_converged,
    assert_predicted,
    check_then_apply,
    count,
    recap,
    retry,
    run_playbook,
    wait_healthy,
)

PKI = "/etc/lab/pki"
INVENTORY = Inventory()

# Run on a node: GET /version over plain TCP or TLS; prints {"ok": ..., "detail": ...}.
PROBE = r"""
import json, socket, ssl, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cert = sys.argv[4:6]
detail, ok = "", False
try:
    sock = socket.create_connection((host, port), timeout=5)
    if mode == "tls":
        ctx = ssl.create_default_context(cafile="/etc/lab/pki/ca.crt")
        if cert:
            ctx.load_cert_chain(*cert)
        sock = ctx.wrap_socket(sock, server_hostname=host)
    sock.sendall(b"GET /version HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while len(data) < 65536:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            if data:  # the answer came; the server just kept the connection
                break
            raise
        if not chunk:
            break
        data += chunk
    text = data.decode(errors="replace")
    ok = text.split(" ", 2)[1:2] == ["200"]
    detail = text[:400]
except Exception as exc:
    detail = f"{type(exc).__name__}: {exc}"
print(json.dumps({"ok": ok, "detail": detail}))
"""


def probe(node, host, port, mode, cert=()):
    return json.loads(node.check("python3 -c %s %s %s %s" + " %s" * len(cert), PROBE, host, str(port), mode, *cert))


def _peer(nodes, node):
    return next(n for n in nodes if n.name != node.name)


OWN = (f"{PKI}/etcdctl.crt", f"{PKI}/etcdctl.key")


@pytest.mark.scenarios("default", "swarm")
def test_only_a_client_with_a_lab_certificate_is_answered(nodes):
    for node in nodes:
        client = _peer(nodes, node)
        for port in (2379, 2380):
            own = probe(client, node.address, port, "tls", OWN)
            assert own["ok"], f"{client.name} -> {node.name}:{port} with its certificate: {own['detail']}"
            plain = probe(client, node.address, port, "plain")
            assert not plain["ok"], f"plain HTTP to {node.name}:{port} was answered: {plain['detail']}"
            bare = probe(client, node.address, port, "tls")
            assert not bare["ok"], f"TLS without a client certificate to {node.name}:{port}: {bare['detail']}"
        # The loopback listener too.
        assert not probe(node, "127.0.0.1", 2379, "plain")["ok"]
        assert probe(node, "127.0.0.1", 2379, "tls", OWN)["ok"]


@pytest.mark.scenarios("default", "swarm")
def test_member_and_client_files_are_private(nodes):
    for node in nodes:
        for name in ("etcd", "etcdctl", "docker-etcd-client"):
            key = node.host.file(f"{PKI}/{name}.key")
            assert key.exists and key.mode == 0o600, f"{node.name}: {name}.key mode {oct(key.mode)}"
        assert node.host.file(f"{PKI}/etcd.key").user == "etcd"
        assert not node.host.file(f"{PKI}/ca.key").exists, "the CA key left the controller"


def test_lab_etcdctl_talks_tls_in_v3_and_v2(node1, nodes):
    res = node1.run("lab-etcdctl endpoint health --cluster")
    assert res.rc == 0, res.stderr
    assert all(f"https://{n.address}:2379 is healthy" in res.stdout + res.stderr for n in nodes)
    if node1.backend() == "cluster-store":
        v2 = node1.check("ETCDCTL_API=2 lab-etcdctl cluster-health")
        assert "cluster is healthy" in v2 and v2.count("is healthy") == len(nodes) + 1, v2


@pytest.mark.scenarios("default")
def test_cluster_store_uses_the_client_certificate(nodes):
    for node in nodes:
        conf = json.loads(node.check("cat /etc/docker/daemon.json"))
        assert conf["cluster-store-opts"] == {"kv.cacertfile": f"{PKI}/ca.crt",
                                              "kv.certfile": f"{PKI}/docker-etcd-client.crt",
                                              "kv.keyfile": f"{PKI}/docker-etcd-client.key"}
        info = json.loads(node.check("docker info -f '{{json .}}'"))
        assert info["ClusterStore"] == f"etcd://{node.address}:2379"
        # dockerd registered itself under /docker (v2 keys) over that connection.
        assert f"/docker/nodes/{node.address}:2375" in node.check("ETCDCTL_API=2 lab-etcdctl ls /docker/nodes")


# ------------------------------------------------ certificates the lab must refuse

def _cert(cn, issuer=None, san_ips=(), ca=False):
    """A throwaway key and certificate (PEM); issuer=(cert, key) signs it, else it signs itself."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = issuer or (None, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                               ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if san_ips:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in san_ips]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert, key, cert.public_bytes(serialization.Encoding.PEM), key_pem


def _lab_ca():
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pki = CACHE / "pki" / INVENTORY.lab
    cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    return cert, key


def _put(node, path, data):
    subprocess.run(["docker", "exec", "-i", node.name, "sh", "-c", f"umask 077; cat > {path}"], input=data,
                   check=True, timeout=30)


@pytest.fixture
def scratch(node1, node2):
    yield "/root/tls-test"
    for node in (node1, node2):
        node.run("pkill -f tls-test/serve; rm -rf /root/tls-test")


@pytest.mark.scenarios("default")  # the CA, the role and the checks are the same on every lab
def test_a_client_certificate_from_another_ca_is_refused(node1, node2, scratch):
    other_ca = _cert("Another CA", ca=True)
    cert, key = _cert("intruder", issuer=other_ca[:2])[2:]
    node2.check("mkdir -p %s", scratch)
    _put(node2, f"{scratch}/other.crt", cert)
    _put(node2, f"{scratch}/other.key", key)
    other = (f"{scratch}/other.crt", f"{scratch}/other.key")
    for port in (2379, 2380):
        res = probe(node2, node1.address, port, "tls", other)
        assert not res["ok"], f"{node1.name}:{port} answered a certificate of another CA: {res['detail']}"
    since = node1.check("date +%s").strip()
    res = node2.run("ETCDCTL_API=3 etcdctl --endpoints=https://%s:2379 --cacert=%s/ca.crt --cert=%s --key=%s "
                    "--dial-timeout=3s --command-timeout=5s endpoint health", node1.address, PKI, *other)
    assert res.rc != 0, res.stdout
    # etcd says why: it rejected the connection from node2.
    log = node1.check("journalctl -u etcd --since @%s --no-pager", since)
    assert "rejected connection" in log and node2.address in log, log[-2000:]


# Run on a node: a TLS server on 127.0.0.1:12379 for 60 s; one line per handshake in the log.
SERVE = r"""
import socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = socket.create_server(("127.0.0.1", 12379))
srv.settimeout(2)
end = time.time() + 60
with open(sys.argv[3], "a", buffering=1) as log:
    while time.time() < end:
        try:
            conn, _ = srv.accept()
        except OSError:
            continue
        try:
            ctx.wrap_socket(conn, server_side=True).close()
            log.write("handshake completed\n")
        except (ssl.SSLError, OSError) as exc:
            log.write(f"handshake failed: {exc}\n")
            conn.close()
"""


@pytest.mark.scenarios("default")  # the CA, the role and the checks are the same on every lab
def test_a_server_certificate_for_another_address_is_refused(node1, scratch):
    """Signed by the lab's CA, but for 192.168.205.99: etcdctl refuses it at 127.0.0.1."""
    cert, key = _cert("not-this-node", issuer=_lab_ca(), san_ips=["192.168.205.99"])[2:]
    node1.check("mkdir -p %s", scratch)
    _put(node1, f"{scratch}/wrong.crt", cert)
    _put(node1, f"{scratch}/wrong.key", key)
    _put(node1, f"{scratch}/serve.py", SERVE.encode())
    node1.check("nohup python3 %s/serve.py %s/wrong.crt %s/wrong.key %s/serve.log >/dev/null 2>&1 &",
                scratch, scratch, scratch, scratch)

    def listening():
        return node1.run("ss -ltnH 'sport = :12379'").stdout.strip()

    assert retry(listening, attempts=10, delay=0.5)
    # The chain is the lab's: a client that skips the name check completes the handshake ...
    chained = node1.run("python3 -c %s", "import socket, ssl; c = ssl.create_default_context("
                        f"cafile='{PKI}/ca.crt'); c.check_hostname = False; "
                        "c.wrap_socket(socket.create_connection(('127.0.0.1', 12379), 5)).close()")
    assert chained.rc == 0, chained.stderr
    # ... and etcdctl, which checks it, refuses the server: its TLS stack (Go's, as etcd's
    # peers and dockerd's) answers the handshake with a bad-certificate alert.
    res = node1.run("lab-etcdctl --endpoints=https://127.0.0.1:12379 --dial-timeout=3s --command-timeout=5s "
                    "endpoint health")
    assert res.rc != 0
    log = node1.check("cat %s/serve.log", scratch)
    assert "handshake completed" in log.splitlines()[0], log
    assert "BAD_CERTIFICATE" in log.upper().replace(" ", "_"), log


def _serial(node, address, port):
    out = node.check("python3 -c %s %s %s", "import ssl, sys; print(ssl.get_server_certificate((sys.argv[1], "
                     "int(sys.argv[2]))))", address, str(port))
    from cryptography import x509

    return x509.load_pem_x509_certificate(out.encode()).serial_number


@pytest.mark.scenarios("default")  # the CA, the role and the checks are the same on every lab
def test_a_lost_file_or_key_comes_back_and_nothing_else_changes(node1, node2):
    """A re-run reads what is there: a key deleted on a node and a file's changed mode are put back, a key
    lost on the controller gets its certificate issued again (only that one), the next run changes nothing."""
    certs = {n.name: n.check("sha256sum %s/*.crt", PKI).splitlines() for n in (node1, node2)}
    node2.check("rm %s/etcdctl.key", PKI)
    node1.check("chmod 0640 %s/ca.crt", PKI)
    (CACHE / "pki" / INVENTORY.lab / node1.name / "etcdctl.key").unlink()
    rc, out = run_playbook("playbooks/pki.yml")
    assert_converged(rc, out, what="pki.yml after a key and a mode were lost")
    assert node2.check("stat -c %s %s/etcdctl.key", "%a", PKI).strip() == "600"
    assert node1.check("stat -c %s %s/ca.crt", "%a", PKI).strip() == "644"
    for n in (node1, node2):
        now = n.check("sha256sum %s/*.crt", PKI).splitlines()
        issued = [a.split()[1] for a, b in zip(certs[n.name], now) if a != b]
        assert issued == ([f"{PKI}/etcdctl.crt"] if n is node1 else []), f"{n.name}: issued again: {issued}"
    node1.check("lab-etcdctl endpoint health")  # the new certificate and key belong together


@pytest.mark.scenarios("default")
def test_a_controller_with_another_ca_is_refused_before_anything_changes(nodes, tmp_path):
    """site.yml from a checkout without this lab's CA (its pki_dir empty, as a fresh clone's is) stops in
    the preflight on every node, naming the CA, changing nothing and making no CA: going on would install
    certificates no member trusts."""
    rc, out = run_playbook("site.yml", "-e", f"pki_dir={tmp_path}")
    stats = recap(out)
    assert rc != 0 and stats and all(s["changed"] == 0 for s in stats.values()), (rc, stats, out[-3000:])
    for n in nodes:
        assert f"{n.name} trusts another lab CA than this controller's ({tmp_path}/ca.crt does not exist)" in out, (
            out[-3000:])
    assert not list(tmp_path.iterdir()), "the refused run made a CA"


def _days_left(nodes):
    """The most whole days any node certificate has left (an earlier run in this clone may have issued long ones)."""
    from cryptography import x509

    now = datetime.datetime.now(datetime.timezone.utc)
    return max((x509.load_pem_x509_certificate(n.check("cat %s/%s.crt", PKI, name).encode()).not_valid_after_utc
                - now).days for n in nodes for name in ("docker-etcd-client", "etcd", "etcdctl"))


@pytest.mark.scenarios("default")
@pytest.mark.disruptive
def test_certificates_near_expiry_are_issued_again(nodes, node1, node2, base_url):
    """Every certificate has fewer days left than pki_renew_days: all are issued again, etcd serves
    the new ones without a restart, dockerd restarts to read its own, the overlay keeps working."""
    renew = _days_left(nodes) + 1
    near_expiry = ("-e", f"pki_renew_days={renew}", "-e", f"pki_cert_days={renew + 30}")
    before = {n.name: n.check("sha256sum %s/*.crt", PKI) for n in nodes}
    served = {n.name: (_serial(n, n.address, 2379), _serial(n, n.address, 2380)) for n in nodes}
    started = {n.name: n.check("systemctl show -p ActiveEnterTimestampMonotonic --value docker") for n in nodes}
    before_count = count(node2, base_url)
    # Check mode first: it reports exactly the certificates (not the keys) a real run issues and installs.
    predicted, applied = check_then_apply("playbooks/etcd.yml", *near_expiry)
    assert_predicted(predicted, applied, f"etcd.yml with pki_renew_days={renew}")
    rc, out = run_playbook("playbooks/overlay.yml", *near_expiry)
    assert_converged(rc, out, what=f"overlay.yml with pki_renew_days={renew}")
    for n in nodes:
        now = n.check("sha256sum %s/*.crt", PKI).splitlines()
        changed = [a.split()[1] for a, b in zip(before[n.name].splitlines(), now) if a != b]
        assert sorted(changed) == [f"{PKI}/{c}.crt" for c in ("docker-etcd-client", "etcd", "etcdctl")], (
            f"{n.name}: issued again: {changed}")  # the CA stays
        now = (_serial(n, n.address, 2379), _serial(n, n.address, 2380))
        assert now[0] != served[n.name][0] and now[1] != served[n.name][1], f"{n.name}: etcd serves the old one"
        assert n.check("systemctl show -p ActiveEnterTimestampMonotonic --value docker") != started[n.name], (
            f"{n.name}: dockerd was not restarted for its new certificate")
    # A new overlay made on node1 reaches node2 through the store, and the app still counts.
    name = f"tls{int(time.time())}"
    node1.check("docker network create -d overlay %s", name)
    try:
        assert retry(lambda: name in node2.check("docker network ls --format '{{.Name}}'"), attempts=15)
    finally:
        node1.run("docker network rm %s", name)
    wait_healthy(node2, base_url)
    after = count(node2, base_url)
    assert after == before_count + 1, f"the counter went from {before_count} to {after}"


def _peer_urls(node):
    members = json.loads(node.check("lab-etcdctl member list -w json"))["members"]
    return sorted(u for m in members for u in m["peerURLs"])


def _demo_ids(nodes):
    return {n.name: n.check("docker network inspect -f '{{.Id}}' demo").strip() for n in nodes}


@pytest.mark.scenarios("ha")
@pytest.mark.disruptive
def test_a_running_plain_lab_moves_to_tls_in_place(nodes, app_node, base_url):
    """site.yml's etcd and overlay stages (the ones TLS changes) with lab_tls=false, then with the
    default: each member moves in turn, quorum kept, `demo` and the counter kept. Over 2 minutes: two
    runs that each restart every etcd member and dockerd one node at a time."""
    demo = _demo_ids(nodes)
    before = count(nodes[-1], base_url)
    stages = ("--tags", "etcd,overlay")

    rc, out = run_playbook("site.yml", *stages, "-e", "lab_tls=false")
    assert_converged(rc, out, what="site.yml with lab_tls=false")
    assert "WARNING: lab_tls is false" in out
    assert _peer_urls(nodes[0]) == sorted(f"http://{n.address}:2380" for n in nodes)
    assert probe(nodes[1], nodes[0].address, 2379, "plain")["ok"], "the plain lab does not answer plain HTTP"
    wait_healthy(nodes[-1], base_url)
    assert count(nodes[-1], base_url) == before + 1

    rc, out = run_playbook("site.yml", *stages)
    assert_converged(rc, out, what="site.yml moving the plain lab to TLS")
    moved = [line for line in out.splitlines() if line.startswith("TASK [etcd : Tell the cluster this member's")]
    assert len(moved) == len(nodes), "each member moves in its own batch (serial: 1)"
    assert _peer_urls(nodes[0]) == sorted(f"https://{n.address}:2380" for n in nodes)
    for node in nodes:
        assert not probe(nodes[0] if node != nodes[0] else nodes[1], node.address, 2379, "plain")["ok"]
    assert _demo_ids(nodes) == demo, "demo was made again"
    wait_healthy(nodes[-1], base_url)
    assert count(nodes[-1], base_url) == before + 2
