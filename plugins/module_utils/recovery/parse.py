# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure parsers of what a node's tools print: dockerd's journal, /proc links, docker inspect
lines and State.Error strings, etcd v2 endpoint records, daemon.json."""

from __future__ import annotations

import json
import re

from ansible_collections.lab.multihost.plugins.module_utils.recovery.model import (
    ADVERTISE,
    CLUSTER_STORE,
    NETNS_FILE,
    NS_LINK,
    PROC_ONE,
    PROC_TASK,
    REFUSAL,
    STORE,
    SWARM,
    Container,
    Endpoint,
    ThreadSample,
)


def parse_daemon_json(text):
    """(backend, advertise address) of /etc/docker/daemon.json's text (None: no file)."""
    text = text or ''
    backend = CLUSTER_STORE if '"cluster-store"' in text else SWARM
    advertise = ''
    for line in text.splitlines():
        found = ADVERTISE.findall(line)
        if found:
            advertise = found[-1]
            break
    return backend, advertise


def parse_store_endpoints(text):
    """The etcd client URLs of the cluster store dockerd uses, from daemon.json's text ([] without
    one): not always this node's own member (a node outside group etcd, or leaving it)."""
    text = text or ''
    found = STORE.search(text)
    if not found:
        return []
    scheme = 'https' if '"kv.certfile"' in text else 'http'
    return [f'{scheme}://{hostport}' for hostport in found.group(1).split(',') if hostport]


def parse_journal(text):
    """The lines of ``journalctl -q -o cat _SYSTEMD_INVOCATION_ID=<id>``."""
    return (text or '').splitlines()


def parse_ns_link(value):
    """Inode of a ``/proc/.../ns/net`` link value (``net:[4026531992]``), or None."""
    digits = re.sub(r'[^0-9]', '', value or '')
    return int(digits) if digits else None


def parse_proc_listing(text):
    """A ThreadSample from a listing of lines ``<path> <value>``:

    - ``/proc/1/ns/net net:[N]``: the node's namespace (live);
    - ``/proc/<pid>/task/<tid>/ns/net net:[N]``: a dockerd thread;
    - ``/run/docker/netns/<name> <inode>``: a namespace Docker keeps (live).

    ``ls -l`` lines (``... -> net:[N]``) do as well. Captured on a node with::

        pid=$(systemctl show -p MainPID --value docker.service)
        for f in /proc/1/ns/net /proc/$pid/task/*/ns/net; do echo "$f $(readlink $f)"; done
        stat -L -c '%n %i' /run/docker/netns/*
    """
    threads, live = [], set()
    for line in (text or '').splitlines():
        link = NS_LINK.search(line)
        task = PROC_TASK.search(line)
        netns = NETNS_FILE.match(line.strip())
        if task and link:
            threads.append((int(task.group(1)), int(link.group(1))))
        elif PROC_ONE.search(line) and link:
            live.add(int(link.group(1)))
        elif netns:
            live.add(int(netns.group(2)))
    return ThreadSample(tuple(threads), frozenset(live))


def parse_container(line):
    """A Container from one line of ``docker inspect -f INSPECT_FORMAT``, or None."""
    parts = line.rstrip('\n').split(' ', 3)
    if len(parts) < 3 or not parts[0]:
        return None
    name, policy, status = parts[0].lstrip('/'), parts[1], parts[2]
    return Container(name, policy, status, parts[3] if len(parts) > 3 else '')


def parse_containers(text):
    return [c for c in map(parse_container, (text or '').splitlines()) if c]


def parse_refusals(error):
    """[(endpoint name, network)] of a State.Error like ``endpoint with name
    redis already exists in network demo`` (the last such phrase of a line)."""
    out = []
    for line in (error or '').splitlines():
        m = REFUSAL.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def parse_endpoint_record(text):
    """An Endpoint of one record as ``ETCDCTL_API=2 etcdctl get KEY`` prints
    it (libnetwork's endpoint JSON), or None when it is not one."""
    try:
        record = json.loads(text or '')
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get('name'), str):
        return None
    locator = record.get('locator')
    return Endpoint(record['name'], locator if isinstance(locator, str) else None)


def parse_etcd_keys(text):
    """The keys ``ETCDCTL_API=2 etcdctl ls DIR`` prints, one a line."""
    return [line.strip() for line in (text or '').splitlines() if line.strip().startswith('/')]


def parse_restarts(text):
    text = (text or '').strip()
    return int(text) if text.isdigit() else 0


def swarm_settled(state):
    return (state or '').strip() in ('active', 'inactive')
