"""Storage of envelopes, readings, quarantine and alarms.

``sqlite.SqliteStore`` is the default back-end (WAL, one writer). Other back-ends (PostgreSQL)
implement the same methods; ``open_store`` picks one from the configuration.
"""

from __future__ import annotations

from pathlib import Path

from cloud.store.sqlite import Accepted, SqliteStore

__all__ = ["Accepted", "SqliteStore", "open_store"]


def open_store(data_dir: Path) -> SqliteStore:
    return SqliteStore(data_dir / "watertel.db")
