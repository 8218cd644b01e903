"""Per-station summary from the store: readings, faulty readings, first/last sample, open alarms."""

from __future__ import annotations

from watertel.cloud.config import CloudConfig
from watertel.cloud.store import open_store


def station_summary(cfg: CloudConfig) -> list[dict]:
    store = open_store(cfg.store, cfg.data_dir)
    try:
        return store.station_stats()
    finally:
        store.close()
