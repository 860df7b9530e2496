"""lab.multihost.x509_info against community.crypto.x509_certificate_info on the same certificates,
and through Ansible's own lookup machinery (its renew_days option)."""

import json

from ansible_collections.lab.multihost.tests.unit.plugins.lookup.certs import cert_pair
from labkit import run_module

FIELDS = ("subject", "subject_alt_name", "extended_key_usage", "authority_key_identifier",
          "subject_key_identifier", "not_after", "valid_at")


def test_same_answer_as_x509_certificate_info(tmp_path):
    ca, leaf = cert_pair()
    for name, pem in (("ca.crt", ca), ("leaf.crt", leaf)):
        path = tmp_path / name
        path.write_bytes(pem)
        module = run_module("community.crypto.x509_certificate_info",
                            {"path": str(path), "valid_at": {"renew": "+30d"}})
        expr = "lookup('lab.multihost.x509_info', '" + str(path) + "', renew_days=30) | to_json"
        mine = run_module("ansible.builtin.debug", {"msg": "{{ " + expr + " }}"})
        mine = json.loads(mine["msg"])
        assert {k: mine.get(k) for k in FIELDS} == {k: module.get(k) for k in FIELDS}, name
