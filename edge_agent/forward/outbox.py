"""The forwarder's own SQLite file: cursor into the buffer, readings waiting for the rest of
their report, and built frames until the platform acknowledged them.

Two transactions carry the guarantee (WAL, ``synchronous=FULL``):

1. ``take``: new buffer rows → ``pending`` and the cursor moved past them, together; then
   ``build``: complete groups of ``pending`` → frames (bytes, as they will be sent), together
   with deleting those rows. A kill -9 before a commit repeats the step; after it, nothing is
   taken twice.
2. ``mark_acked``: after the platform's acknowledgement. A kill -9 between sending and this
   commit sends the same bytes again after the restart (same serial, same send time): the only
   duplicates are whole re-sent frames.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from watertel.edge_agent.forward.source import Row

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1), protocol TEXT NOT NULL, last_id INTEGER NOT NULL,
    last_added_ms INTEGER NOT NULL, serial INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, point TEXT NOT NULL, t_ms INTEGER NOT NULL, value REAL,
    quality INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL, t_ms INTEGER NOT NULL, n INTEGER NOT NULL,
    data BLOB NOT NULL, built_ms INTEGER NOT NULL, acked_ms INTEGER);
CREATE INDEX IF NOT EXISTS frames_unacked ON frames(seq) WHERE acked_ms IS NULL;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Frame:
    seq: int
    station: str
    t_ms: int
    n: int  # readings in it
    data: bytes


@dataclass(frozen=True)
class Built:
    """One frame to add: its station, sample time, readings and bytes."""

    station: str
    t_ms: int
    n: int
    data: bytes


class Outbox:
    def __init__(self, path: Path, protocol: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT protocol, last_added_ms FROM cursor").fetchone()
        self.fresh = row is None or row[1] < 0  # never read the buffer yet (last_added_ms -1)
        if row is None:
            self.db.execute("INSERT INTO cursor VALUES (1, ?, 0, -1, 0)", (protocol,))
        elif row[0] != protocol:
            self.db.close()
            raise ValueError(f"state file {path} holds {row[0]} frames, not {protocol} (give this platform its own "
                             "state file)")

    def close(self) -> None:
        self.db.close()

    def cursor(self) -> tuple[int, int]:
        return self.db.execute("SELECT last_id, last_added_ms FROM cursor").fetchone()

    def move_cursor(self, last_id: int, last_added_ms: int = 0) -> None:
        self.db.execute("UPDATE cursor SET last_id = ?, last_added_ms = ?", (last_id, last_added_ms))
        self.fresh = False

    def take(self, rows: list[Row], keep: list[Row], counts: dict[str, int]) -> None:
        """Move the cursor past ``rows``, keeping ``keep`` (the mapped ones) as pending; one commit."""
        if not rows:
            return
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT OR IGNORE INTO pending VALUES (?,?,?,?,?,?)", [
                (r.id, r.station, r.point, r.t_ms, None if math.isnan(r.value) else r.value, r.quality) for r in keep])
            self.db.execute("UPDATE cursor SET last_id = ?, last_added_ms = ?", (rows[-1].id, rows[-1].added_ms))
            self._count(counts)
        self.fresh = False

    def pending(self) -> list[Row]:
        rows = self.db.execute("SELECT id, station, point, t_ms, value, quality FROM pending ORDER BY id").fetchall()
        return [Row(i, s, p, t, math.nan if v is None else v, q, 0) for i, s, p, t, v, q in rows]

    def next_serial(self, n: int) -> int:
        """The SL 651 serial after the last one used (1-65535, wrapping); stored by :meth:`build`."""
        (serial,) = self.db.execute("SELECT serial FROM cursor").fetchone()
        return (serial + n - 1) % 0xFFFF + 1

    def build(self, frames: list[Built], done_ids: list[int], serial: int | None, counts: dict[str, int]) -> None:
        """Add built frames and drop the pending rows they (or a refusal) used up; one commit."""
        if not frames and not done_ids:
            return
        now = _now_ms()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT INTO frames (station, t_ms, n, data, built_ms) VALUES (?,?,?,?,?)",
                                [(f.station, f.t_ms, f.n, f.data, now) for f in frames])
            self.db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in done_ids])
            if serial is not None:
                self.db.execute("UPDATE cursor SET serial = ?", (serial,))
            self._count(counts)

    def next_frame(self) -> Frame | None:
        row = self.db.execute("SELECT seq, station, t_ms, n, data FROM frames WHERE acked_ms IS NULL "
                              "ORDER BY seq LIMIT 1").fetchone()
        return Frame(*row) if row else None

    def mark_acked(self, frame: Frame) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE frames SET acked_ms = ? WHERE seq = ?", (_now_ms(), frame.seq))
            self._count({"forwarded_frames": 1, "forwarded_readings": frame.n})

    def prune(self, keep_acked: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM frames WHERE acked_ms IS NOT NULL AND seq <= "
                            "(SELECT seq FROM frames WHERE acked_ms IS NOT NULL ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                            (keep_acked,))

    def _count(self, counts: dict[str, int]) -> None:
        self.db.executemany("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n",
                            [(k, v) for k, v in counts.items() if v])

    def counters(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT name, n FROM counters").fetchall())

    def stats(self) -> dict[str, int]:
        (waiting, readings) = self.db.execute(
            "SELECT count(*), coalesce(sum(n), 0) FROM frames WHERE acked_ms IS NULL").fetchone()
        (pending,) = self.db.execute("SELECT count(*) FROM pending").fetchone()
        return {"frames_waiting": waiting, "readings_waiting": readings, "pending": pending, **self.counters()}
