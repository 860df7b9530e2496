# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check mode is the plan. Of a decision's changes, a check-mode run previews through the
stage's own task each one that task can judge on the node as it is; the others wait for
something an earlier step of a real run makes first (apt's lists, a package's unit or user,
the engine). Those the decision itself reports, with why; their tasks are not run.

Pure: no I/O.
"""

from ansible_collections.lab.multihost.plugins.module_utils.plan.docker import NO_ENGINE
from ansible_collections.lab.multihost.plugins.module_utils.plan.host import NO_LISTS

NOT_LOADED = 'a real run installs the unit first'


def waits_for(key, reasons, state, want):
    """Why a check-mode run cannot preview this change through its task; None when it can."""
    kind, name = key.split(':', 1)
    if kind == 'package' and NO_LISTS in reasons:
        return NO_LISTS
    if kind == 'unit' and 'not loaded' in reasons:
        return NOT_LOADED
    if kind == 'file':
        spec = (want.get('files') or {}).get(name) or {}
        known = state.get('accounts') or {}
        for field, table in (('owner', 'users'), ('group', 'groups')):
            account = spec.get(field)
            if account is not None and not (known.get(table) or {}).get(str(account), True):
                return f'its {field} {account} does not exist yet (a real run installs it first)'
    if kind in ('network', 'image', 'container') and NO_ENGINE in reasons:
        return 'no engine answers yet (a real run installs and starts it first)'
    return None


def split(changes, state, want):
    """(act, waiting): the changes whose tasks run in check mode, and {key: reasons} of those the
    decision reports itself, each with what it waits for."""
    act, waiting = {}, {}
    for key, reasons in changes.items():
        why = waits_for(key, reasons, state, want)
        if why:
            waiting[key] = [r for r in reasons if r != why] + [why]
        else:
            act[key] = reasons
    return act, waiting
