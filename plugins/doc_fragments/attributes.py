# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The attributes every module of this collection documents: check mode, diff
mode and platform.

DOCUMENTATION fits the modules that change the node (over the netns engine).
A read-only module lists INFO_MODULE before it: when fragments overlap, the
one listed first wins."""


class ModuleDocFragment:
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it predicts without modifying the node.
    support: full
    details: In check mode the module reads the node and reports what it would do; it changes nothing.
  diff_mode:
    description: Returns details on what has changed (or would change, in check mode) when in diff mode.
    support: full
    details: Before and after of each declared object, one line per object.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: linux
'''

    INFO_MODULE = r'''
options: {}
attributes:
  diff_mode:
    support: N/A
    details: This module only reads; there is nothing to diff.
'''

    FACTS = r'''
options: {}
attributes:
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
    details: A play's fact gathering can run it (C(ansible_facts_modules)).
'''
