# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files: existence, type, mode, owner, group, SHA-1 of a regular file, a link's target; a small
file's contents."""

import base64
import grp
import hashlib
import os
import pwd
import stat


def file_facts(path):
    """{exists, type, mode ('0644'), mtime, owner, group, checksum (sha1 of a regular file),
    target (of a symbolic link)} of one path."""
    try:
        st = os.lstat(path)
    except OSError:
        return {'exists': False}
    facts = {'exists': True, 'mode': f'{stat.S_IMODE(st.st_mode):04o}', 'mtime': st.st_mtime,
             'owner': _name(pwd.getpwuid, st.st_uid), 'group': _name(grp.getgrgid, st.st_gid)}
    if stat.S_ISREG(st.st_mode):
        facts['type'] = 'file'
        digest = hashlib.sha1()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 16), b''):
                digest.update(block)
        facts['checksum'] = digest.hexdigest()
    elif stat.S_ISDIR(st.st_mode):
        facts['type'] = 'directory'
    elif stat.S_ISLNK(st.st_mode):
        facts['type'] = 'link'
        facts['target'] = os.readlink(path)
    else:
        facts['type'] = 'other'
    return facts


def file_contents(path):
    """A small file's bytes, base64-encoded; None when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            return base64.b64encode(f.read()).decode('ascii')
    except OSError:
        return None


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def accounts(users=(), groups=()):
    """{'users': {name: exists}, 'groups': {name: exists}} of the owners and groups named."""
    return {'users': {u: _exists(pwd.getpwnam, u) for u in users},
            'groups': {g: _exists(grp.getgrnam, g) for g in groups}}


def _exists(lookup, name):
    try:
        lookup(name)
        return True
    except KeyError:
        return False
