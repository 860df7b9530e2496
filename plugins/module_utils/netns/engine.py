# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The netns engine's entry for the netns, veth, linux_bridge and
netns_topology modules: validate, read, plan and apply a topology spec
(``converge``) and turn the answer into the module's result (``run_module``).
The modules only map their options onto a spec; netns_common describes the
steps. On a node, ``restore`` rebuilds the topologies the netns_lab role
recorded (netns-lab.service at boot: /run/netns does not survive one)."""

import json
import sys

from ansible_collections.lab.multihost.plugins.module_utils.netns.apply import apply
from ansible_collections.lab.multihost.plugins.module_utils.netns.common import NetnsError, exit_module
from ansible_collections.lab.multihost.plugins.module_utils.netns.plan import plan
from ansible_collections.lab.multihost.plugins.module_utils.netns.runner import Runner, which
from ansible_collections.lab.multihost.plugins.module_utils.netns.validate import normalize


def converge(spec, check_mode=False, runner=None, auto_namespaces=True, indexed=True):
    """Validate, read, plan and (unless check_mode) apply ``spec``.

    Returns a dict for exit_json: changed, operations, diff, warnings.
    Raises NetnsError (with .details) on invalid input or a failed step.
    """
    topo = normalize(spec, auto_namespaces, indexed)
    runner = runner or Runner()
    if not which('ip') and runner.ip == 'ip':
        raise NetnsError('the ip command (iproute2) was not found')
    iptables = which('iptables')
    p = plan(topo, runner, check_mode=check_mode, firewall_tool=iptables)
    result = {
        'changed': bool(p.ops),
        'operations': [op.cmdline() for op in p.ops],
        'diff': {'before': _render(p.before), 'after': _render(p.after)},
        'warnings': p.warnings,
    }
    if p.ops and not check_mode:
        apply(p.ops, runner, iptables)
    return result


def _render(view):
    lines = []
    for key in sorted(view):
        attrs = view[key]
        lines.append('{}: {}'.format(key, ', '.join(f'{k}={_fmt(attrs[k])}' for k in sorted(attrs))))
    return '\n'.join(lines) + ('\n' if lines else '')


def _fmt(value):
    if isinstance(value, list):
        return '[' + ' '.join(str(v) for v in value) + ']'
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_module(module, spec, single=False):
    """Converge ``spec`` for an AnsibleModule and exit.  ``single``: a
    one-object module (no implicit namespaces, plain field names)."""
    exit_module(module, lambda: converge(spec, check_mode=module.check_mode,
                                         auto_namespaces=not single, indexed=not single))


def restore(path, runner=None):
    """Converge every topology recorded in the JSON file at ``path`` (a list of
    specs: name, namespaces, bridges, veths); returns one line per topology.
    No record: nothing to rebuild."""
    try:
        with open(path, encoding='utf-8') as f:
            topologies = json.load(f)
    except FileNotFoundError:
        return []
    lines = []
    for topo in topologies:
        spec = {key: topo.get(key, []) for key in ('namespaces', 'bridges', 'veths')}
        result = converge(dict(spec, state='present'), runner=runner)
        lines.append('{}: {}'.format(topo.get('name', '?'), '{} operations'.format(len(result['operations']))
                                     if result['changed'] else 'as recorded'))
    return lines


def main(argv=None, out=None, err=None):
    """``netns_engine.py --restore FILE``: 0 done, 1 failed, 2 usage."""
    args = sys.argv[1:] if argv is None else list(argv)
    out, err = out or sys.stdout, err or sys.stderr
    if len(args) != 2 or args[0] != '--restore':
        err.write('usage: netns_engine.py --restore FILE\n')
        return 2
    try:
        for line in restore(args[1]):
            out.write(f'netns-lab: {line}\n')
    except (OSError, ValueError, NetnsError) as exc:
        err.write(f"netns-lab: {getattr(exc, 'msg', exc)}\n")
        return 1
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
