# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a node holds, one small reader per kind: files, units, packages, the Docker Engine's API,
nftables, etcd; the command runner they share (run); and NodeReader, the batch of them
lab.multihost.node_state runs. Standard library only: the stage decisions (plan/) compare
what they return."""
