# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stage's decision on the Docker Engine: the networks, images and containers a node holds
(readers/docker.py's read) against what the stage wants.

Keys: ``network:NAME``, ``image:REFERENCE`` and ``container:NAME``. Pure: no I/O.
"""

import hashlib
import json

SPEC_LABEL = 'lab.multihost.spec'
SECRETS_LABEL = 'lab.multihost.secrets'
NO_ENGINE = 'no engine answers'


def network_reasons(have, want):
    """Why the network as read is not the wanted one: missing, driver, subnet."""
    if have is None:
        return ['missing']
    reasons = []
    if have.get('driver') != want.get('driver', 'bridge'):
        reasons.append('driver')
    if want.get('subnet') and want['subnet'] not in (have.get('subnets') or []):
        reasons.append('subnet')
    return reasons


def secrets_version(digests):
    """A container's label for its secret files: path -> SHA-1 of the content (None: missing),
    hashed. The controller labels the container with it from the contents it writes (filter
    lab.multihost.secrets_version); the decision computes it from the same digests."""
    text = json.dumps(sorted(digests.items()), separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def container_reasons(have, want, digests=None):
    """Why the container is not the wanted one: missing, stopped, detached from its network
    (it runs without an endpoint there), another spec (its label, the hash of every setting), or
    other secrets (its secrets label against ``digests``, the secret files' SHA-1s)."""
    if have is None:
        return ['missing']
    if not have.get('running'):
        return ['stopped']
    reasons = []
    if want.get('network') and want['network'] not in (have.get('networks') or []):
        reasons.append('detached')
    if want.get('spec') is not None and (have.get('labels') or {}).get(SPEC_LABEL) != want['spec']:
        reasons.append('spec')
    if digests is not None and (have.get('labels') or {}).get(SECRETS_LABEL) != secrets_version(digests):
        reasons.append('secrets')
    return reasons


def alone_on(containers, name, network):
    """Whether ``name`` is the one running container on ``network`` among ``containers`` (the
    engine's read: name -> {running, networks}). Replacing it then leaves the overlay with no
    container on the node, where Docker 20.10 leaves a dockerd thread the recovery engine repairs."""
    running = [key for key, have in (containers or {}).items()
               if have.get('running') and network in (have.get('networks') or [])]
    return running == [name]


def secret_digests(paths, wanted, files):
    """Each secret file's SHA-1: the content the stage writes there where its want has one, else
    the node's file as read (a stage that does not hold the secret on the controller)."""
    written = {path: ((wanted or {}).get(path) or {}).get('checksum') for path in paths}
    return {path: written[path] or ((files or {}).get(path) or {}).get('checksum') for path in paths}


def engine_changes(engine, want, files=None):
    """{key: [reason, ...]} for each network, image and container the engine lacks or holds
    otherwise, in the order a stage applies them. Everything when no engine answers. ``files``:
    the node's files as read, for a container's ``secrets`` (the paths of its secret files)."""
    changes = {}
    networks = (engine or {}).get('networks') or {}
    images = (engine or {}).get('images') or []
    containers = (engine or {}).get('containers') or {}
    for net in want.get('networks') or []:
        reasons = [NO_ENGINE] if engine is None else network_reasons(networks.get(net['name']), net)
        if reasons:
            changes[f"network:{net['name']}"] = reasons
    for ref in want.get('images') or []:
        if engine is None or ref not in images:
            changes[f'image:{ref}'] = [NO_ENGINE] if engine is None else ['missing']
    for name, spec in (want.get('containers') or {}).items():
        digests = None if spec.get('secrets') is None else secret_digests(spec['secrets'], want.get('files'), files)
        reasons = [NO_ENGINE] if engine is None else container_reasons(containers.get(name), spec, digests)
        if reasons:
            changes[f'container:{name}'] = reasons
    return changes
