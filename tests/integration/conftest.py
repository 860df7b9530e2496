"""Fixtures for the netns integration tests (helpers: tests/labkit.py)."""

import os
import secrets
import shutil

import pytest
from labkit import cleanup


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0 or not shutil.which('ip'):
        skip = pytest.mark.skip(reason='integration tests need root and iproute2')
        for item in items:
            if 'integration' in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture
def prefix():
    p = 't' + secrets.token_hex(3)
    cleanup(p)
    yield p
    cleanup(p)
