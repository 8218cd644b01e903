"""Storage of envelopes, readings, quarantine and alarms.

``SqlStore`` holds what every back-end does; ``SqliteStore`` (default, one file in the data
directory) and ``PostgresStore`` (psycopg 3, month partitions) supply the database. ``open_store``
picks one from the configuration.
"""

from __future__ import annotations

from pathlib import Path

from watertel.cloud.config import CloudConfig
from watertel.cloud.store.sql import Accepted, SqlStore
from watertel.cloud.store.sqlite import SqliteStore

__all__ = ["Accepted", "SqlStore", "SqliteStore", "open_store"]


def open_store(cfg: CloudConfig, migrate: bool = False) -> SqlStore:
    """The configured store; ``migrate`` upgrades an older schema (else it is refused)."""
    if cfg.store.kind == "postgres":
        from watertel.cloud.store.postgres import PostgresStore

        return PostgresStore(cfg.store.connection(), migrate)
    return SqliteStore(Path(cfg.data_dir) / "watertel.db", migrate)
