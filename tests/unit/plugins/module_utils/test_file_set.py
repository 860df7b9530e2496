"""lab.multihost.file_set's engine on real files in a temporary directory (root: owners are set)."""

import os
import stat

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.file_set import apply, plan, read_text


def _files(tmp_path, **over):
    base = [{'path': str(tmp_path / 'lib' / 'engine.py'), 'content': 'print(1)\n', 'mode': '0644',
             'owner': 'root', 'group': None},
            {'path': str(tmp_path / 'sbin' / 'tool'), 'content': '#!/bin/sh\n', 'mode': '0755',
             'owner': 'root', 'group': 'root'}]
    for f in base:
        f.update(over)
    return base


def test_missing_files_are_written_with_their_modes_then_nothing_differs(tmp_path):
    files = _files(tmp_path)
    changes = plan(files)
    assert changes == [(files[0]['path'], 'missing'), (files[1]['path'], 'missing')]
    apply(files, changes)
    assert open(files[1]['path']).read() == '#!/bin/sh\n'
    assert stat.S_IMODE(os.stat(files[1]['path']).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / 'sbin').st_mode) == 0o755
    assert plan(files) == []


def test_each_difference_is_named(tmp_path):
    files = _files(tmp_path)
    apply(files, plan(files))
    os.chmod(files[0]['path'], 0o600)
    with open(files[1]['path'], 'a') as fh:
        fh.write('# by hand\n')
    assert plan(files) == [(files[0]['path'], 'mode'), (files[1]['path'], 'content')]
    os.chown(files[0]['path'], 65534, 65534)
    assert plan(files)[0] == (files[0]['path'], 'mode, owner')


def test_a_directory_in_the_way_is_not_a_regular_file(tmp_path):
    files = _files(tmp_path)
    os.makedirs(files[0]['path'])
    assert plan(files)[0] == (files[0]['path'], 'not a regular file')


def test_unknown_owner_fails_before_anything_changes(tmp_path):
    files = _files(tmp_path, owner='no-such-user-here')
    with pytest.raises(KeyError):
        plan(files)
    assert not (tmp_path / 'lib').exists()


def test_a_failure_while_staging_leaves_every_file_as_it_was(tmp_path, monkeypatch):
    files = _files(tmp_path)
    apply(files, plan(files))
    files[0]['content'] = 'print(2)\n'
    files[1]['content'] = '#!/bin/sh\nexit 0\n'
    changes = plan(files)
    assert len(changes) == 2
    real_chown = os.chown

    def chown(path, uid, gid):  # the second file cannot be given its owner
        if '.tool.' in os.path.basename(path):
            raise PermissionError(1, 'Operation not permitted', path)
        real_chown(path, uid, gid)

    monkeypatch.setattr(os, 'chown', chown)
    with pytest.raises(PermissionError):
        apply(files, changes)
    assert open(files[0]['path']).read() == 'print(1)\n'
    assert sorted(os.listdir(tmp_path / 'lib')) == ['engine.py']
    assert sorted(os.listdir(tmp_path / 'sbin')) == ['tool']


def test_read_text_for_the_diff(tmp_path):
    assert read_text(str(tmp_path / 'none')) == ''
    (tmp_path / 'bin').write_bytes(b'\xff\xfe')
    assert read_text(str(tmp_path / 'bin')) == '(binary)\n'


def test_keep_owner_leaves_an_existing_files_owner_and_sets_a_new_ones(tmp_path):
    files = _files(tmp_path, keep_owner=True)
    apply(files, plan(files))
    assert os.stat(files[0]['path']).st_uid == 0
    os.chown(files[0]['path'], 65534, 65534)
    assert plan(files) == []
    files[0]['content'] = 'print(2)\n'
    apply(files, plan(files))
    seen = os.stat(files[0]['path'])
    assert (seen.st_uid, seen.st_gid, open(files[0]['path']).read()) == (65534, 65534, 'print(2)\n')
