"""Unit tests of the file_wants filter: rendered contents become the SHA-1 node_state compares,
and the contents themselves never go into the want."""

import hashlib

from ansible_collections.lab.multihost.plugins.filter.file_wants import file_wants


def test_content_becomes_its_sha1_and_the_rest_is_kept():
    want = file_wants({'/etc/x': {'content': 'secret\n', 'mode': '0640', 'owner': 'root', 'group': None}})
    assert want == {'/etc/x': {'checksum': hashlib.sha1(b'secret\n').hexdigest(), 'mode': '0640', 'owner': 'root'}}
    assert 'secret\n' not in repr(want)


def test_directories_and_links_keep_their_type_and_target():
    assert file_wants({'/d': {'type': 'directory', 'mode': '0755'},
                       '/l': {'type': 'link', 'target': '/t'}}) == {
        '/d': {'type': 'directory', 'mode': '0755'}, '/l': {'type': 'link', 'target': '/t'}}


def test_a_path_wanted_absent_keeps_its_state():
    assert file_wants({'/old.py': {'state': 'absent'}}) == {'/old.py': {'state': 'absent'}}
