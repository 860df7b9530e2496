# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""overlay-recover's engine: after an unclean stop, bring a node's containers
back onto its overlays (docs/recovery.md says why and when).

Its parts, by job: ``model`` (limits, paths, log signatures and the data it
plans with), ``parse``, ``plan``, ``observe`` and ``act``; ``cli`` runs it as
a command.

- parsing: pure functions over what the node's tools print (dockerd's
  journal, ``/proc/<pid>/task/*/ns/net`` links, ``docker inspect`` lines and
  State.Error strings, etcd v2 endpoint records, daemon.json);
- planning: ``plan(Observation) -> Plan``, pure: restart dockerd or not and
  why, the containers to start and why, the stale endpoints to clear and
  those left alone;
- acting: ``NodeRunner`` reads an Observation with the node's commands and
  carries plans out (``check``, ``recover``), through a ``run(argv) -> (rc,
  out, err)`` callable and a small file-system object, both replaceable.

The lab.multihost.overlay_recover module drives it; on a node it also runs
alone (``python3 -m ...module_utils.recovery --boot|--repair|--check``), and as
docker.service's start and stop hooks (``--before-start``, ``--after-stop``). Python 3.9+
stdlib only: it imports nothing from Ansible.
"""
