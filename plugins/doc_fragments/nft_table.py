# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nft option of the modules that read the fence (node_state, host_plan):
module_utils.node_state.NFT_OPTION is its argument spec."""


class ModuleDocFragment:
    DOCUMENTATION = r'''
options:
  nft:
    description:
      - Compare the table the kernel holds with the one the ruleset file loads (loaded in a
        scratch network namespace; both printed by C(nft -s), without counter values).
    type: dict
    suboptions:
      table:
        description: Family and name, e.g. C(inet lab_fence).
        type: str
        required: true
      ruleset:
        description: The ruleset file on the node.
        type: path
        required: true
'''
