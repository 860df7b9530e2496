# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one command runner of the readers: ``run(argv) -> (rc, stdout, stderr)``."""


def module_run(module):
    """The reader's ``run`` over an AnsibleModule's run_command, in the C locale. A tool that is
    not installed yet (a fresh node) reads as a failed command."""
    def run(argv):
        try:
            return module.run_command(argv, environ_update={'LC_ALL': 'C'}, handle_exceptions=False)
        except OSError as exc:
            return 127, '', str(exc)
    return run
