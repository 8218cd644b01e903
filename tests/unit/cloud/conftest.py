"""Fixtures the cloud's unit tests share (a module that defines its own of the same name uses
that one)."""

from __future__ import annotations

import pytest

from watertel.cloud.api.auth import hash_password
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.alarm_messages import alarms_raise_codes  # noqa: F401 - an autouse fixture
from tests.support.api import PASSWORD, legacy_scrypt_hash


@pytest.fixture(scope="module")
def hashes():
    """argon2 hashing costs ~0.2 s a password: once per module."""
    return {"argon2": hash_password(PASSWORD), "scrypt": legacy_scrypt_hash(PASSWORD)}


@pytest.fixture
def store(tmp_path):
    """A SQLite store in the test's folder."""
    store = SqliteStore(tmp_path / "watertel.db")
    yield store
    store.close()
