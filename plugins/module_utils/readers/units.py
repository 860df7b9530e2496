# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd units: loaded, enabled, active."""


def parse_units(names, text):
    """`systemctl show -p LoadState,UnitFileState,ActiveState NAME...`: one block per unit, in order."""
    blocks = text.strip().split('\n\n') if text.strip() else []
    out = {}
    for name, block in zip(names, blocks):
        props = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        out[name] = {'loaded': props.get('LoadState') == 'loaded',
                     'enabled': props.get('UnitFileState') == 'enabled',
                     'active': props.get('ActiveState') == 'active'}
    for name in names[len(blocks):]:
        out[name] = {'loaded': False, 'enabled': False, 'active': False}
    return out


def read_units(run, names):
    """The units' state through systemctl, one run for all."""
    if not names:
        return {}
    rc, out, _err = run(['systemctl', 'show', '-p', 'LoadState,UnitFileState,ActiveState', '--'] + names)
    return parse_units(names, out if rc == 0 else '')
