"""Fixtures the cloud's integration tests share (a module that defines its own of the same name
uses that one)."""

from __future__ import annotations

import pytest

from watertel.cloud.api.auth import hash_password
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.alarm_messages import alarms_raise_codes  # noqa: F401 - an autouse fixture
from tests.support.api import PASSWORD, legacy_scrypt_hash
from tests.support.browser import chromium, new_page
from tests.support.stores import BACK_ENDS, store_factory


@pytest.fixture(scope="module")
def hashes():
    """argon2 hashing costs ~0.2 s a password: once per module."""
    return {"argon2": hash_password(PASSWORD), "scrypt": legacy_scrypt_hash(PASSWORD)}


@pytest.fixture(scope="module")
def password_hash():
    return hash_password(PASSWORD)


@pytest.fixture
def store(tmp_path):
    """A SQLite store in the test's folder (what the API serves)."""
    store = SqliteStore(tmp_path / "watertel.db")
    yield store
    store.close()


@pytest.fixture(params=BACK_ENDS)
def open_store(request, tmp_path):
    """A factory of store connections to one fresh database of each back-end."""
    yield from store_factory(request, tmp_path)


@pytest.fixture
def browser_page():
    """A Chromium page the size of a phone (390 × 844), for the crew page too."""
    with chromium() as browser:
        yield new_page(browser, viewport={"width": 390, "height": 844})  # a phone, for the crew page too
