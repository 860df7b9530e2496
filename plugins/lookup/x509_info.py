# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lookup lab.multihost.x509_info: what the pki role compares of certificates on the controller."""

DOCUMENTATION = r'''
name: x509_info
short_description: Read PEM certificates on the controller, in-process
description:
  - For each path, the fields the pki role compares, named and formatted as
    M(community.crypto.x509_certificate_info) returns them, read with the cryptography
    library inside the controller's process instead of one module run per certificate.
  - A path that does not hold a readable certificate gives an empty dict.
options:
  _terms:
    description: Paths of PEM certificates on the controller.
    type: list
    elements: path
    required: true
  renew_days:
    description: Also return C(valid_at.renew), whether the certificate is valid this many days from now.
    type: int
requirements:
  - cryptography (a dependency of community.crypto)
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: The lab CA's key identifier
  ansible.builtin.debug:
    msg: "{{ lookup('lab.multihost.x509_info', pki_dir ~ '/ca.crt').subject_key_identifier | default('none') }}"

- name: Which certificates near expiry
  ansible.builtin.set_fact:
    near_expiry: "{{ query('lab.multihost.x509_info', *paths, renew_days=30) | rejectattr('valid_at.renew') }}"
'''

RETURN = r'''
_list:
  description: One dict per path (empty when the path holds no readable certificate).
  type: list
  elements: dict
  contains:
    subject:
      description: The subject's attributes by name (C(commonName)).
      type: dict
    subject_alt_name:
      description: The SANs, C(IP:address) and C(DNS:name).
      type: list
      elements: str
    extended_key_usage:
      description: OpenSSL's names of the extended key usages.
      type: list
      elements: str
    subject_key_identifier:
      description: Colon-separated lower-case hex.
      type: str
    authority_key_identifier:
      description: Colon-separated lower-case hex.
      type: str
    not_after:
      description: ASN.1 time, C(YYYYMMDDHHMMSSZ).
      type: str
    valid_at:
      description: With O(renew_days), C(renew) is whether the certificate is valid then.
      type: dict
'''

import datetime

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

try:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    # OpenSSL's names, as community.crypto returns them.
    EKU_NAMES = {
        ExtendedKeyUsageOID.SERVER_AUTH: 'TLS Web Server Authentication',
        ExtendedKeyUsageOID.CLIENT_AUTH: 'TLS Web Client Authentication',
        ExtendedKeyUsageOID.CODE_SIGNING: 'Code Signing',
        ExtendedKeyUsageOID.EMAIL_PROTECTION: 'E-mail Protection',
        ExtendedKeyUsageOID.TIME_STAMPING: 'Time Stamping',
        ExtendedKeyUsageOID.OCSP_SIGNING: 'OCSP Signing',
    }
except ImportError:  # reported when the lookup runs
    x509 = None


def _hex(data):
    return ':'.join(f'{b:02x}' for b in data)


def _extension(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _san(general_name):
    if isinstance(general_name, x509.IPAddress):
        return f'IP:{general_name.value}'
    if isinstance(general_name, x509.DNSName):
        return f'DNS:{general_name.value}'
    return str(general_name.value)


def _eku_name(oid):
    return EKU_NAMES.get(oid, oid.dotted_string)


def cert_info(pem, renew_days=None, now=None):
    """The fields of one PEM certificate (bytes); {} when it is not one."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return {}
    info = {'subject': {}}
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common:
        info['subject']['commonName'] = common[0].value
    san = _extension(cert, x509.SubjectAlternativeName)
    info['subject_alt_name'] = [_san(n) for n in san] if san is not None else None
    eku = _extension(cert, x509.ExtendedKeyUsage)
    info['extended_key_usage'] = [_eku_name(o) for o in eku] if eku is not None else None
    ski = _extension(cert, x509.SubjectKeyIdentifier)
    info['subject_key_identifier'] = _hex(ski.digest) if ski is not None else None
    aki = _extension(cert, x509.AuthorityKeyIdentifier)
    info['authority_key_identifier'] = _hex(aki.key_identifier) if aki is not None and aki.key_identifier else None
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    info['not_after'] = not_after.strftime('%Y%m%d%H%M%SZ')
    if renew_days is not None:
        when = (now or datetime.datetime.now(datetime.timezone.utc)) + datetime.timedelta(days=int(renew_days))
        info['valid_at'] = {'renew': not_before <= when <= not_after}
    return info


def read(paths, renew_days=None):
    """cert_info of each path's content; {} where it cannot be read."""
    out = []
    for path in paths:
        try:
            with open(path, 'rb') as f:
                pem = f.read()
        except OSError:
            out.append({})
            continue
        out.append(cert_info(pem, renew_days))
    return out


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if x509 is None:
            raise AnsibleLookupError('lab.multihost.x509_info needs the Python library cryptography on the controller')
        self.set_options(var_options=variables, direct=kwargs)
        return read(terms, self.get_option('renew_days'))
