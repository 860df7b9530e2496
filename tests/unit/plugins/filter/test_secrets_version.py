"""Unit tests of the filter lab.multihost.secrets_version: the label a lab container carries for its
secret files, the one the decision computes from their SHA-1s."""

import hashlib

from ansible_collections.lab.multihost.plugins.filter.secrets_version import secrets_version
from ansible_collections.lab.multihost.plugins.module_utils.plan.docker import secrets_version as from_digests


def test_the_label_is_the_decisions_for_the_same_files_and_never_the_content():
    contents = {'/opt/lab/secrets/a': 's3cret', '/opt/lab/secrets/b': 'other'}
    digests = {path: hashlib.sha1(text.encode()).hexdigest() for path, text in contents.items()}
    label = secrets_version(contents)
    assert label == from_digests(digests) and len(label) == 12 and 's3cret' not in label


def test_new_content_or_another_path_is_another_label():
    base = secrets_version({'/opt/lab/secrets/a': 'one'})
    assert secrets_version({'/opt/lab/secrets/a': 'two'}) != base
    assert secrets_version({'/opt/lab/secrets/b': 'one'}) != base
