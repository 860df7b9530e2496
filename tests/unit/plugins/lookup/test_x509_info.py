"""lab.multihost.x509_info reads what community.crypto.x509_certificate_info returns, in-process.

The expected values are what x509_certificate_info returned for the same certificates
(certs.cert_pair makes them with cryptography as the pki role does: an ECC CA and a leaf it signed)."""

import datetime

import pytest
from ansible_collections.lab.multihost.plugins.lookup.x509_info import cert_info, read
from ansible_collections.lab.multihost.tests.unit.plugins.lookup.certs import CERT_NOW as NOW
from ansible_collections.lab.multihost.tests.unit.plugins.lookup.certs import cert_pair


def test_the_fields_the_pki_role_compares():
    ca, leaf = cert_pair()
    ca_info, info = cert_info(ca), cert_info(leaf, renew_days=30, now=NOW)
    assert info["subject"] == {"commonName": "docker-node1"}
    assert info["subject_alt_name"] == ["IP:192.168.205.10", "DNS:localhost"]
    assert info["extended_key_usage"] == ["TLS Web Client Authentication", "TLS Web Server Authentication"]
    assert info["authority_key_identifier"] == ca_info["subject_key_identifier"]
    assert len(info["authority_key_identifier"].split(":")) == 20 and info["authority_key_identifier"].islower()
    assert info["valid_at"] == {"renew": True}
    assert info["not_after"] == (NOW + datetime.timedelta(days=365)).strftime("%Y%m%d%H%M%SZ")


def test_near_expiry_is_not_valid_at_renew():
    _ca, leaf = cert_pair(days=20)
    assert cert_info(leaf, renew_days=30, now=NOW)["valid_at"] == {"renew": False}


@pytest.mark.parametrize("content", [None, b"", b"not a certificate"], ids=["missing", "empty", "garbage"])
def test_no_certificate_is_an_empty_dict(tmp_path, content):
    path = tmp_path / "x.crt"
    if content is not None:
        path.write_bytes(content)
    assert read([str(path)], renew_days=30) == [{}]


def test_each_path_is_read(tmp_path):
    ca, leaf = cert_pair()
    (tmp_path / "ca.crt").write_bytes(ca)
    (tmp_path / "leaf.crt").write_bytes(leaf)
    out = read([str(tmp_path / "ca.crt"), str(tmp_path / "leaf.crt")])
    assert out[0]["subject"] == {"commonName": "Lab CA (lab)"} and "valid_at" not in out[1]
    assert out[1]["authority_key_identifier"] == out[0]["subject_key_identifier"]
