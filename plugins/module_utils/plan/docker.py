# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stage's decision on the Docker Engine: the networks, images and containers a node holds
(readers/docker.py's read) against what the stage wants.

Keys: ``network:NAME``, ``image:REFERENCE`` and ``container:NAME``. Pure: no I/O.
"""

SPEC_LABEL = 'lab.multihost.spec'
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


def container_reasons(have, want):
    """Why the container is not the wanted one: missing, stopped, detached from its network
    (it runs without an endpoint there), or another spec (its label, the hash of every setting)."""
    if have is None:
        return ['missing']
    if not have.get('running'):
        return ['stopped']
    reasons = []
    if want.get('network') and want['network'] not in (have.get('networks') or []):
        reasons.append('detached')
    if want.get('spec') is not None and (have.get('labels') or {}).get(SPEC_LABEL) != want['spec']:
        reasons.append('spec')
    return reasons


def engine_changes(engine, want):
    """{key: [reason, ...]} for each network, image and container the engine lacks or holds
    otherwise, in the order a stage applies them. Everything when no engine answers."""
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
        reasons = [NO_ENGINE] if engine is None else container_reasons(containers.get(name), spec)
        if reasons:
            changes[f'container:{name}'] = reasons
    return changes
