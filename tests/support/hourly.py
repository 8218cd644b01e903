"""Readings stored for the hour rollups (each its own envelope, arriving ``delay`` after its
sample), and the stored hours read back."""

from __future__ import annotations

import itertools
import os

from watertel.cloud.store.hourly import COLUMNS
from watertel.cloud.store.sql import SqlStore
from watertel.envelope import Envelope
from watertel.readings import Reading, Quality

from tests.support.quality import MIN

SEQ = itertools.count(3 * 10**9)  # apart from the other helpers' envelope numbers


def put(store: SqlStore, *readings: tuple, delay: int = MIN) -> None:
    """Store (station, point, t_ms, value[, quality]) readings, each as an envelope that arrived
    ``delay`` after its sample, through the back-end's own insert (as ingest does)."""
    for station, point, t_ms, value, *quality in readings:
        r = Reading(station, point, t_ms, value, "m3", quality[0] if quality else Quality.OK)
        getattr(store, "_ensure_partition", lambda t: None)(t_ms)
        env = Envelope("gw-1", "k1", next(SEQ), b"\0" * 32, t_ms + delay, (r,), os.urandom(32))
        with store._write():
            store._insert(env, t_ms + delay)


def hours(store: SqlStore, station: str = "S") -> dict[tuple[str, int], dict]:
    """Every stored hour of a station by (point, hour_ms)."""
    rows = store._rows(f"SELECT {', '.join(COLUMNS)} FROM point_hours WHERE station = ?", (station,))
    return {(r[1], r[2]): dict(zip(COLUMNS[3:], r[3:])) for r in rows}
