"""Stores for tests that run on both back-ends: SQLite in a file, PostgreSQL on a fresh database of
the test server (the ``postgres`` fixture, so such a test is an integration test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from watertel.cloud.store.postgres import PostgresStore
from watertel.cloud.store.sql import SqlStore
from watertel.cloud.store.sqlite import SqliteStore

BACK_ENDS = ["sqlite", "postgres"]
# What migration 7 added (alarm message codes): a test that makes a store look like an older
# schema version runs these as well, so the migration finds the store as that version left it.
UNDO_VERSION_7 = ("ALTER TABLE alarms DROP COLUMN message_code", "ALTER TABLE alarms DROP COLUMN message_params")
# What migration 8 added (field work: photos, idempotency keys, the board's time index).
UNDO_VERSION_8 = ("DROP TABLE work_order_photos", "DROP TABLE idempotency_keys", "DROP INDEX alarms_raised")
# What migration 9 added (a refused message's size and SM3 digest in quarantine).
UNDO_VERSION_9 = ("ALTER TABLE quarantine DROP COLUMN size", "ALTER TABLE quarantine DROP COLUMN sm3")


def store_on(request: pytest.FixtureRequest, path: Path, migrate: bool = False) -> SqlStore:
    """A store of the back-end ``request.param`` names: SQLite at ``path``, else PostgreSQL."""
    if request.param == "sqlite":
        return SqliteStore(path, migrate)
    return PostgresStore(request.getfixturevalue("postgres"), migrate)


def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., SqlStore]]:
    """A factory of store connections to one fresh database (several = several ingest workers);
    closes them all afterwards."""
    if request.param == "sqlite":
        make = lambda migrate: SqliteStore(tmp_path / "w.db", migrate)  # noqa: E731
    else:
        dsn = request.getfixturevalue("postgres")
        make = lambda migrate: PostgresStore(dsn, migrate)  # noqa: E731
    opened: list[SqlStore] = []

    def factory(migrate: bool = False) -> SqlStore:
        opened.append(make(migrate))
        return opened[-1]

    yield factory
    for store in opened:
        store.close()
