# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stage's host-level decision: what a node holds (readers/, through node_state) against
what the stage wants, as one entry per thing to change with its reasons.

The comparison lives here and nowhere else; tasks act on the keys it returns:
``file:PATH``, ``unit:NAME``, ``restart:UNIT``, ``package:NAME``, ``nft:TABLE`` and ``topology:NAME``.
Pure: no I/O.
"""

TOPOLOGY_OPS_SHOWN = 5  # a fresh topology is dozens of `ip` calls: the diff names the first ones
NO_LISTS = "apt's lists on the node hold no version of it (a real run reads them first)"


def normal_mode(mode):
    """'644', '0644', 0o644 or 420 -> '0644'."""
    return f'{mode if isinstance(mode, int) else int(str(mode), 8):04o}'


def file_reasons(have, want):
    """Why the file as read is not the wanted one: [] when it is."""
    if want.get('state') == 'absent':
        return ['present'] if have and have.get('exists') else []
    if not have or not have.get('exists'):
        return ['missing']
    kind = want.get('type') or ('file' if want.get('checksum') is not None else None)
    if kind and have.get('type') != kind:
        return [f'not a {kind}']
    reasons = []
    if want.get('target') is not None and have.get('target') != want['target']:
        reasons.append('target')
    if want.get('checksum') is not None and have.get('checksum') != want['checksum']:
        reasons.append('content')
    if want.get('mode') is not None and have.get('mode') != normal_mode(want['mode']):
        reasons.append('mode')
    for key in ('owner', 'group'):
        if want.get(key) is not None and have.get(key) != str(want[key]):
            reasons.append(key)
    return reasons


def package_reasons(name, candidates):
    """Not installed, and the version apt's lists offer (when they were read): or that they hold none."""
    if candidates is None:
        return ['not installed']
    version = candidates.get(name)
    return ['not installed', f'apt would install {version}' if version else NO_LISTS]


def unit_reasons(have, want):
    """Why the unit is not in the wanted state: not loaded, disabled, stopped."""
    have = have or {}
    reasons = []
    if not have.get('loaded'):
        reasons.append('not loaded')
    if want.get('enabled') and not have.get('enabled'):
        reasons.append('disabled')
    if want.get('active') and not have.get('active'):
        reasons.append('stopped')
    return reasons


def restart_reasons(files, spec):
    """Why a running daemon must restart: a file it reads only at start is newer than the pid file
    it wrote when it started. Nothing where it does not run (no pid file): starting it reads them."""
    started = files.get(spec['pid']) or {}
    if not started.get('exists'):
        return []
    return [f'{path} changed since it started' for path in spec.get('reads') or []
            if (files.get(path) or {}).get('exists') and files[path].get('mtime', 0) > started.get('mtime', 0)]


def host_changes(state, want):
    """{key: [reason, ...]} for each thing the node lacks, in the order a stage applies them:
    packages, files, units, restarts, then the rules and namespaces the kernel holds. Empty on a
    converged node."""
    changes = {}
    for name in want.get('packages') or []:
        if not (state.get('packages') or {}).get(name):
            changes[f'package:{name}'] = package_reasons(name, state.get('candidates'))
    for path, spec in (want.get('files') or {}).items():
        reasons = file_reasons((state.get('files') or {}).get(path), spec)
        if reasons:
            changes[f'file:{path}'] = reasons
    for name, spec in (want.get('units') or {}).items():
        reasons = unit_reasons((state.get('units') or {}).get(name), spec)
        if reasons:
            changes[f'unit:{name}'] = reasons
    for unit, spec in (want.get('restarts') or {}).items():
        reasons = restart_reasons(state.get('files') or {}, spec)
        if reasons:
            changes[f'restart:{unit}'] = reasons
    nft = want.get('nft')
    if nft and not (state.get('nft') or {}).get(nft['table']):
        changes[f"nft:{nft['table']}"] = ['not loaded in the kernel as the ruleset has it']
    for name in want.get('topologies') or []:
        reasons = topology_reasons((state.get('netns_topologies') or {}).get(name))
        if reasons:
            changes[f'topology:{name}'] = reasons
    return changes


def topology_reasons(plan):
    """Why a namespace topology differs: the netns engine's own plan of it, read on the node."""
    if plan is None:
        return ['not read']
    if plan.get('error'):
        return [plan['error']]
    ops = [str(op) for op in plan.get('operations') or []]
    if len(ops) > TOPOLOGY_OPS_SHOWN:
        ops = ops[:TOPOLOGY_OPS_SHOWN] + [f'and {len(ops) - TOPOLOGY_OPS_SHOWN} more']
    return ops or (['differs'] if plan.get('differs') else [])


def diff_text(changes):
    """The decision as check mode and --diff print it: one line per change."""
    return ''.join(f"{key}: {', '.join(reasons)}\n" for key, reasons in changes.items())
