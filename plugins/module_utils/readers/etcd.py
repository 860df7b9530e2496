# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd: whether a member answers healthy."""


def healthy(run, endpoint, cacert=None, cert=None, key=None):
    """Whether the etcd member at ``endpoint`` answers healthy (etcdctl, v3 API); False when it
    does not answer in time or etcdctl is not installed."""
    tls = [f'--{name}={path}' for name, path in (('cacert', cacert), ('cert', cert), ('key', key)) if path]
    rc, _out, _err = run(['etcdctl', f'--endpoints={endpoint}', '--dial-timeout=2s', '--command-timeout=5s']
                         + tls + ['endpoint', 'health'])
    return rc == 0
