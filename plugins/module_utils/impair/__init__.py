# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The impairment engine: delay, jitter, loss, duplication and a rate limit on
the egress of one interface (of the node or of a named namespace).

The flow, a file per step: validate (options -> normalized spec, errors name
the option) -> state (read the node: tc, the iptables chain and its counters,
the record, the listener's pidfile and stats, /proc's queue table) -> plan
(desired vs read -> operations, each with its undo) -> apply (in order, undo
on failure). engine is the entry: converge, run_module, read_all and the
``--restore`` / ``--read`` / ``--listen`` command line; node is the seam to
the machine (commands through the netns Runner, files, processes).

Two backends: ``netem`` (tc, where the kernel has sch_netem) and ``queue``
(an iptables NFQUEUE rule and listener.py holding the packets in user space).
"""
