# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every step of the netns engine shares: the host namespace marker,
the error type, one planned operation and the phases operations run in.

The engine's flow: validate (netns_validate) -> read actual state with
``ip -j`` (netns_state) -> plan a list of operations, the diff and the
check-mode answer (netns_plan, with Docker's DOCKER-USER rule in
netns_firewall) -> apply them in phases with an undo list (netns_apply).
Commands run through a Runner (netns_runner); netns_engine is the entry the
modules call. Pure python 3.9+ stdlib; needs only iproute2 on the node.
"""

HOST = None  # the namespace of the calling process
WORKERS = 4  # namespaces read, and batches run, in parallel

# Apply phases: objects that others depend on come first.
PH_NETNS, PH_CREATE, PH_CONFIGURE, PH_FIREWALL = 0, 1, 2, 3
PH_REMOVE_LINKS, PH_REMOVE_NETNS = 0, 1


class NetnsError(Exception):
    """A validation, planning or apply error; ``details`` go to fail_json."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def exit_module(module, converge):
    """Exit ``module`` with what ``converge()`` returns (changed, operations, diff, warnings, ...):
    the diff only in diff mode, the warnings as warnings; fail_json with a NetnsError's details."""
    try:
        result = converge()
    except NetnsError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    diff = result.pop('diff')
    for warning in result.pop('warnings'):
        module.warn(warning)
    if module._diff:
        result['diff'] = diff
    module.exit_json(**result)


def ns_label(ns):
    return '(host)' if ns is HOST else ns


class Op:
    """One step: ``ip [-n ns] args`` (or an iptables argv when tool='iptables')."""

    def __init__(self, phase, ns, args, undo=None, tool='ip'):
        self.phase, self.ns, self.args, self.undo, self.tool = phase, ns, list(args), undo, tool

    def cmdline(self):
        if self.tool == 'ip':
            return ' '.join(['ip'] + (['-n', self.ns] if self.ns is not HOST else []) + self.args)
        return ' '.join(['iptables'] + self.args)

    def __repr__(self):
        return f'<Op {self.cmdline()}>'
