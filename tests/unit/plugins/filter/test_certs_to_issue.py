"""Unit tests of the filter lab.multihost.certs_to_issue: the pki role's choice of the certificates
the lab CA issues again, on certificates made as the role makes them and read by x509_info."""

import pytest
from ansible_collections.lab.multihost.plugins.filter.certs_to_issue import certs_to_issue
from ansible_collections.lab.multihost.plugins.lookup.x509_info import cert_info
from ansible_collections.lab.multihost.tests.unit.plugins.lookup.certs import CERT_NOW as NOW
from ansible_collections.lab.multihost.tests.unit.plugins.lookup.certs import cert_pair

EKU = {'serverAuth': 'TLS Web Server Authentication', 'clientAuth': 'TLS Web Client Authentication'}
WANT = {'name': 'etcd', 'cn': 'docker-node1', 'san': ['DNS:localhost', 'IP:192.168.205.10'],
        'eku': ['serverAuth', 'clientAuth']}


@pytest.fixture(name='held')
def fixture_held(tmp_path):
    """The controller's copy of a certificate valid a year and its key; the CA's key identifier."""
    ca, leaf = cert_pair(days=365)
    (tmp_path / 'etcd.key').write_text('key')
    return cert_info(leaf, renew_days=30, now=NOW), cert_info(ca)['subject_key_identifier'], str(tmp_path)


def test_a_certificate_as_wanted_is_not_issued(held):
    seen, ca_id, keys = held
    assert certs_to_issue([seen], [WANT], ca_id, EKU, keys) == []


@pytest.mark.parametrize('change, reason', [
    (lambda seen, want: seen.clear(), 'missing'),
    (lambda seen, want: seen['valid_at'].update(renew=False), 'near expiry'),
    (lambda seen, want: want.update(cn='docker-node2'), 'subject'),
    (lambda seen, want: want.update(san=['IP:192.168.205.11', 'DNS:localhost']), 'SANs'),
    (lambda seen, want: want.update(eku=['clientAuth']), 'key usage'),
    (lambda seen, want: seen.update(authority_key_identifier='00:11'), 'another CA'),
])
def test_each_difference_issues_the_certificate_again(held, change, reason):
    seen, ca_id, keys = held
    seen, want = dict(seen, valid_at=dict(seen['valid_at'])), dict(WANT)
    change(seen, want)
    assert certs_to_issue([seen], [want], ca_id, EKU, keys, reasons=True) == {'etcd': [reason]}
    assert certs_to_issue([seen], [want], ca_id, EKU, keys) == ['etcd']


def test_no_lab_ca_or_no_key_on_the_controller_issues_it_again(held, tmp_path):
    seen, ca_id, keys = held
    assert certs_to_issue([seen], [WANT], '', EKU, keys, reasons=True) == {'etcd': ['another CA']}
    (tmp_path / 'etcd.key').unlink()
    assert certs_to_issue([seen], [WANT], ca_id, EKU, keys, reasons=True) == {'etcd': ['key missing']}
