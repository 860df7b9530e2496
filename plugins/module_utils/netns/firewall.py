# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker's DOCKER-USER chain: an ``-i BR -o BR -j ACCEPT`` rule for every host
bridge with ``firewall: docker-user``.

Docker sets the FORWARD policy to DROP while bridge netfilter is on, which
drops traffic between the ports of any host bridge; Docker jumps to
DOCKER-USER first and never flushes it, so the rule survives dockerd
restarts. A bridge in a namespace needs no rule. The planner asks this step
for its operations right after each bridge's own (see netns_plan.plan)."""

from ansible_collections.lab.multihost.plugins.module_utils.netns.common import (
    HOST,
    PH_FIREWALL,
    PH_REMOVE_LINKS,
    Op,
)

CHAIN = 'DOCKER-USER'


def accept_match(bridge):
    return ['-i', bridge, '-o', bridge, '-j', 'ACCEPT']


class DockerUserRule:
    """Plans the DOCKER-USER accept rule; reads the chain with the runner.

    iptables: the iptables binary, or None when the node has none (then no
    rule is managed at all)."""

    def __init__(self, runner, iptables):
        self.runner = runner
        self.iptables = iptables
        self._chain = None  # chain present (or planned); read on first use

    def wanted(self, br):
        return br['namespace'] is HOST and br['firewall'] == 'docker-user' and bool(self.iptables)

    def chain_present(self):
        if self._chain is None:
            rc = self.runner.run([self.iptables, '-w', '-S', CHAIN])[0]
            self._chain = rc == 0
        return self._chain

    def rule_present(self, bridge):
        if not self.chain_present():
            return False
        rc = self.runner.run([self.iptables, '-w', '-C', CHAIN] + accept_match(bridge))[0]
        return rc == 0

    def present(self, bridge):
        """(rule there before, ops): create the chain if needed, insert the rule."""
        before = self.rule_present(bridge)
        ops = []
        if not self.chain_present():
            ops.append(Op(PH_FIREWALL, HOST, ['-w', '-N', CHAIN], tool='iptables',
                          undo=Op(PH_FIREWALL, HOST, ['-w', '-X', CHAIN], tool='iptables')))
            self._chain = True
        if not before:
            ops.append(Op(PH_FIREWALL, HOST, ['-w', '-I', CHAIN] + accept_match(bridge),
                          tool='iptables',
                          undo=Op(PH_FIREWALL, HOST, ['-w', '-D', CHAIN] + accept_match(bridge),
                                  tool='iptables')))
        return before, ops

    def absent(self, bridge):
        """Ops removing the rule, with the bridge's links."""
        if not self.rule_present(bridge):
            return []
        return [Op(PH_REMOVE_LINKS, HOST, ['-w', '-D', CHAIN] + accept_match(bridge),
                   tool='iptables')]
