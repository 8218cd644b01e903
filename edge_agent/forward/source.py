"""New readings from the edge agent's buffer, read by id, never written.

The buffer's ``readings.id`` grows with every commit; the forwarder keeps the last id it took
(and that reading's ``added_ms``) in its own state file. Two things can happen behind its back:

- the buffer prunes readings the forwarder has not taken yet (it was stopped for longer than the
  buffer keeps sent data): the gap in the ids is counted as ``pruned_unforwarded`` and logged;
- the buffer is emptied and SQLite starts the ids again at 1 (its ids are not AUTOINCREMENT):
  rows at or below the cursor added after it show it, and the cursor moves back to them.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("watertel.edge.forward")


@dataclass(frozen=True)
class Row:
    id: int
    station: str
    point: str
    t_ms: int
    value: float  # NaN: no valid value (quality says why)
    quality: int
    added_ms: int


class BufferSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection | None:
        if self.db is None and self.path.exists():
            db = sqlite3.connect(self.path, isolation_level=None, timeout=5)
            db.execute("PRAGMA query_only=1")
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'readings'").fetchone():
                self.db = db
            else:
                db.close()
        return self.db

    def close(self) -> None:
        if self.db:
            self.db.close()
            self.db = None

    def newest(self) -> tuple[int, int]:
        """(id, added_ms) of the newest reading; (0, 0) when there is none."""
        db = self._open()
        row = db.execute("SELECT id, added_ms FROM readings ORDER BY id DESC LIMIT 1").fetchone() if db else None
        return row or (0, 0)

    def restarted_at(self, last_id: int, last_added_ms: int, full: bool) -> int | None:
        """The first id at or below ``last_id`` that was added after it (ids started again), if any.

        ``full`` scans every such row (at start); otherwise only the cheap sign is checked: the
        newest id is below the cursor."""
        db = self._open()
        if db is None or not last_id:
            return None
        if not full and db.execute("SELECT coalesce(max(id), 0) FROM readings").fetchone()[0] >= last_id:
            return None
        (first,) = db.execute("SELECT min(id) FROM readings WHERE id <= ? AND added_ms > ?",
                              (last_id, last_added_ms)).fetchone()
        if first is None and not full:  # emptied, nothing new yet: the next reading gets id 1
            return 1
        return first

    def after(self, last_id: int, limit: int) -> list[Row]:
        db = self._open()
        if db is None:
            return []
        rows = db.execute("SELECT id, station, point, t_ms, value, quality, added_ms FROM readings WHERE id > ? "
                          "ORDER BY id LIMIT ?", (last_id, limit)).fetchall()
        return [Row(i, s, p, t, math.nan if v is None else v, q, a) for i, s, p, t, v, q, a in rows]

    def latest(self, station: str, points: list[str]) -> list[Row]:
        """The newest reading of each of ``points`` (by arrival: the ids grow), for a platform's query.

        Scans back from the newest id, so a station that reports stops the scan early; the buffer
        has no (station, point) index and queries are rare."""
        db = self._open()
        if db is None:
            return []
        out = []
        for point in points:
            row = db.execute("SELECT id, station, point, t_ms, value, quality, added_ms FROM readings "
                             "WHERE station = ? AND point = ? ORDER BY id DESC LIMIT 1", (station, point)).fetchone()
            if row:
                i, s, p, t, v, q, a = row
                out.append(Row(i, s, p, t, math.nan if v is None else v, q, a))
        return out
