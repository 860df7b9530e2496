# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter lab.multihost.certs_to_issue: which of a node's certificates the controller issues again."""

import os

DOCUMENTATION = r'''
name: certs_to_issue
short_description: Which of a node's certificates the lab CA issues (again), and why
description:
  - Compares each certificate the pki role wants for a node with the one the controller holds, as
    M(lab.multihost.x509_info) read it (with C(renew_days)), on the controller.
  - A certificate is issued where it is missing or near expiry, names another subject, SAN set or
    extended key usage, was signed by another CA than the lab CA, or its key is gone.
positional: _input, wanted, ca_key_id, eku_names, key_dir
options:
  _input:
    description: What M(lab.multihost.x509_info) returned for each wanted certificate, in the same order.
    type: list
    elements: dict
    required: true
  wanted:
    description: The wanted certificates, each C(name), C(cn), C(san) (list) and C(eku) (request names).
    type: list
    elements: dict
    required: true
  ca_key_id:
    description: The lab CA's subject key identifier; empty where there is no CA yet.
    type: str
    required: true
  eku_names:
    description: Request name of an extended key usage -> the name x509_info returns.
    type: dict
    required: true
  key_dir:
    description: The directory on the controller that holds C(<name>.key) of each certificate.
    type: path
    required: true
  reasons:
    description: Return name -> reasons instead of the names.
    type: bool
    default: false
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: Choose the certificates to issue
  ansible.builtin.set_fact:
    pki_to_issue: >-
      {{ pki_existing | lab.multihost.certs_to_issue(pki_certs, pki_ca.subject_key_identifier | default(''),
                                                     pki_eku_names, pki_dir ~ '/' ~ inventory_hostname) }}
'''

RETURN = r'''
_value:
  description: The names of the certificates to issue, in the wanted order (with O(reasons), name -> reasons).
  type: raw
'''


def cert_reasons(seen, want, ca_key_id, eku_names, key_dir):
    """Why the certificate as read is not the wanted one: [] when it is."""
    if not seen:
        return ['missing']
    reasons = []
    if not (seen.get('valid_at') or {}).get('renew'):
        reasons.append('near expiry')
    if (seen.get('subject') or {}).get('commonName', '') != want['cn']:
        reasons.append('subject')
    if sorted(seen.get('subject_alt_name') or []) != sorted(want['san']):
        reasons.append('SANs')
    if sorted(seen.get('extended_key_usage') or []) != sorted(eku_names[e] for e in want['eku']):
        reasons.append('key usage')
    if not ca_key_id or seen.get('authority_key_identifier', '') != ca_key_id:
        reasons.append('another CA')
    if not os.path.isfile(os.path.join(key_dir, want['name'] + '.key')):
        reasons.append('key missing')
    return reasons


def certs_to_issue(existing, wanted, ca_key_id, eku_names, key_dir, reasons=False):
    out = {}
    for seen, want in zip(existing, wanted):
        why = cert_reasons(seen, want, ca_key_id, eku_names, key_dir)
        if why:
            out[want['name']] = why
    return out if reasons else list(out)


class FilterModule:
    def filters(self):
        return {'certs_to_issue': certs_to_issue}
