"""Per-station summary from the store (`watertel report summary`): readings, faulty readings,
first/last sample, open alarms."""

from __future__ import annotations

from pathlib import Path

from watertel.cloud.store import StoreConfig, open_store


def station_summary(settings: StoreConfig, data_dir: Path) -> list[dict]:
    """One row per station of the store ``settings`` name (SQLite: in ``data_dir``)."""
    store = open_store(settings, data_dir)
    try:
        return store.station_stats()
    finally:
        store.close()
