# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Several files written in one module run (lab.multihost.file_set): what differs is
planned first, then every new file is staged beside its destination and only then
renamed into place, so a failure while staging changes nothing. Standard library only.
"""

import grp
import hashlib
import os
import pwd
import tempfile

from ansible_collections.lab.multihost.plugins.module_utils.readers.files import file_facts


def _owner_ids(owner, group):
    uid = pwd.getpwnam(owner).pw_uid
    gid = grp.getgrnam(group).gr_gid if group else pwd.getpwnam(owner).pw_gid
    return uid, gid


def plan(files):
    """[{path, content, mode, owner, group, keep_owner}] -> [(path, why)] of the files that differ,
    in order.

    A file differs when it is missing, is not a regular file, or has other content, mode,
    owner or group (read as node_state reads a file); with keep_owner an existing file's owner
    and group are its own. Raises KeyError for an unknown owner or group before anything
    changes."""
    out = []
    for f in files:
        uid, gid = _owner_ids(f['owner'], f['group'])
        seen = file_facts(f['path'])
        keep = f.get('keep_owner', False)
        if not seen['exists']:
            out.append((f['path'], 'missing'))
            continue
        if seen['type'] != 'file':
            out.append((f['path'], 'not a regular file'))
            continue
        why = [w for w, differs in (
            ('content', seen['checksum'] != hashlib.sha1(f['content'].encode()).hexdigest()),
            ('mode', seen['mode'] != f"{int(f['mode'], 8):04o}"),
            ('owner', not keep and (seen['owner'], seen['group'])
             != (pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name)),
        ) if differs]
        if why:
            out.append((f['path'], ', '.join(why)))
    return out


def apply(files, changes):
    """Write the files `changes` names: stage each beside its destination (parents made 0755),
    then rename them all into place. A failure while staging removes what was staged. A file
    with keep_owner that exists keeps its owner and group."""
    by_path = {f['path']: f for f in files}
    staged = []
    try:
        for path, _why in changes:
            f = by_path[path]
            parent = os.path.dirname(path)
            os.makedirs(parent, mode=0o755, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix='.' + os.path.basename(path) + '.')
            staged.append((tmp, path))
            with os.fdopen(fd, 'wb') as fh:
                fh.write(f['content'].encode())
            if f.get('keep_owner') and os.path.lexists(path):
                seen = os.lstat(path)
                os.chown(tmp, seen.st_uid, seen.st_gid)
            else:
                os.chown(tmp, *_owner_ids(f['owner'], f['group']))
            os.chmod(tmp, int(f['mode'], 8))
    except BaseException:
        for tmp, _path in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
    for tmp, path in staged:
        os.rename(tmp, path)


def read_text(path, limit=65536):
    """A file's text for a diff: '' when missing, a note when binary or large."""
    try:
        with open(path, 'rb') as fh:
            data = fh.read(limit + 1)
    except OSError:
        return ''
    if len(data) > limit:
        return f'(more than {limit} bytes)\n'
    try:
        return data.decode()
    except UnicodeDecodeError:
        return '(binary)\n'
