"""Storage of envelopes, readings, quarantine, alarms, the audit log and the rollups.

``SqlStore`` (sql.py) holds what every back-end does; ``SqliteStore`` (default, one file in the
data directory) and ``PostgresStore`` (psycopg 3, month partitions) supply the database.
``open_store`` picks one from the store's own settings (the ``store:`` section, config.py): the
store knows nothing of the rest of the cloud's configuration.
"""

from __future__ import annotations

from pathlib import Path

from watertel.cloud.store.config import PostgresStoreConfig, SqliteStoreConfig, StoreConfig, sqlite_path
from watertel.cloud.store.database import now_ms
from watertel.cloud.store.envelopes import Accepted
from watertel.cloud.store.postgres import PostgresStore
from watertel.cloud.store.schema import SCHEMA_VERSION, StoreError
from watertel.cloud.store.sql import SqlStore
from watertel.cloud.store.sqlite import SqliteStore

__all__ = ["SCHEMA_VERSION", "Accepted", "PostgresStore", "PostgresStoreConfig", "SqlStore", "SqliteStore",
           "SqliteStoreConfig", "StoreConfig", "StoreError", "now_ms", "open_store"]


def open_store(settings: StoreConfig, data_dir: Path, migrate: bool = False) -> SqlStore:
    """The store ``settings`` name (SQLite: its file in ``data_dir``); ``migrate`` upgrades an
    older schema (else it is refused)."""
    if isinstance(settings, PostgresStoreConfig):
        return PostgresStore(settings.connection(), migrate)
    return SqliteStore(sqlite_path(data_dir), migrate)
