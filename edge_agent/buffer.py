"""The durable buffer: every reading is committed to SQLite before anything else happens to it.

WAL with ``synchronous=FULL``: a commit survives a power cut. Sealing a batch (assigning the
sequence number, signing, linking the chain) is one transaction with marking its readings, so
after a crash a reading is either in exactly one sealed batch or still waiting; a batch is
re-sent, never re-sealed, so the cloud sees the same bytes again and drops the duplicate.
"""

from __future__ import annotations

import math
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watertel.envelope import GENESIS_HASH, ChainState
from watertel.readings import Quality, Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, point TEXT NOT NULL, t_ms INTEGER NOT NULL,
    value REAL, unit TEXT NOT NULL, quality INTEGER NOT NULL, seq INTEGER, added_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS readings_unsealed ON readings(id) WHERE seq IS NULL;
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY, data BLOB NOT NULL, n INTEGER NOT NULL, sealed_ms INTEGER NOT NULL, sent_ms INTEGER);
CREATE INDEX IF NOT EXISTS batches_unsent ON batches(seq) WHERE sent_ms IS NULL;
CREATE TABLE IF NOT EXISTS chain (
    id INTEGER PRIMARY KEY CHECK (id = 1), gateway_id TEXT NOT NULL, next_seq INTEGER NOT NULL, prev_hash BLOB NOT NULL);
"""

Sealer = Callable[[list[Reading], ChainState], tuple[bytes, ChainState]]


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Batch:
    seq: int
    data: bytes
    n: int


class Buffer:
    """One SQLite file per gateway; used from one thread (the agent's event loop)."""

    def __init__(self, path: Path, gateway_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT gateway_id FROM chain").fetchone()
        if row is None:
            self.db.execute("INSERT INTO chain VALUES (1, ?, 1, ?)", (gateway_id, GENESIS_HASH))
        elif row[0] != gateway_id:
            raise ValueError(f"buffer {path} belongs to gateway {row[0]!r}, not {gateway_id!r}")

    def close(self) -> None:
        self.db.close()

    def add(self, readings: list[Reading]) -> None:
        """Commit readings (one transaction per poll)."""
        now = _now_ms()
        rows = [
            (r.station, r.point, r.t_ms, None if math.isnan(r.value) else r.value, r.unit, int(r.quality), now)
            for r in readings
        ]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO readings (station, point, t_ms, value, unit, quality, added_ms) VALUES (?,?,?,?,?,?,?)", rows
            )

    def unsealed(self) -> tuple[int, int | None]:
        """Count of readings waiting to be sealed and the time the oldest was added."""
        n, oldest = self.db.execute("SELECT count(*), min(added_ms) FROM readings WHERE seq IS NULL").fetchone()
        return n, oldest

    def seal_next(self, max_readings: int, sealer: Sealer) -> Batch | None:
        """Seal the oldest waiting readings into the next batch, atomically."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            rows = self.db.execute(
                "SELECT id, station, point, t_ms, value, unit, quality FROM readings WHERE seq IS NULL ORDER BY id LIMIT ?",
                (max_readings,),
            ).fetchall()
            if not rows:
                return None
            readings = [
                Reading(s, p, t, math.nan if v is None else v, u, Quality(q)) for _, s, p, t, v, u, q in rows
            ]
            next_seq, prev_hash = self.db.execute("SELECT next_seq, prev_hash FROM chain").fetchone()
            data, state = sealer(readings, ChainState(next_seq, prev_hash))
            self.db.execute("INSERT INTO batches (seq, data, n, sealed_ms) VALUES (?,?,?,?)",
                            (next_seq, data, len(rows), _now_ms()))
            self.db.executemany("UPDATE readings SET seq = ? WHERE id = ?", [(next_seq, r[0]) for r in rows])
            self.db.execute("UPDATE chain SET next_seq = ?, prev_hash = ?", (state.seq, state.prev_hash))
        return Batch(next_seq, data, len(rows))

    def unsent(self, limit: int) -> list[Batch]:
        rows = self.db.execute(
            "SELECT seq, data, n FROM batches WHERE sent_ms IS NULL ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [Batch(*row) for row in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        with self.db:
            self.db.executemany("UPDATE batches SET sent_ms = ? WHERE seq = ?", [(_now_ms(), s) for s in seqs])

    def stats(self) -> dict[str, int]:
        """Counts for progress output and the demo summary."""
        polled, unsealed = self.db.execute(
            "SELECT count(*), count(*) FILTER (WHERE seq IS NULL) FROM readings").fetchone()
        sent, pending = self.db.execute(
            "SELECT coalesce(sum(n) FILTER (WHERE sent_ms IS NOT NULL), 0), count(*) FILTER (WHERE sent_ms IS NULL)"
            " FROM batches").fetchone()
        return {"polled": polled, "unsealed": unsealed, "published": sent, "batches_pending": pending}


def read_all(path: Path) -> list[Reading]:
    """Every reading a buffer file holds (for reconciliation and `watertel report`)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT station, point, t_ms, value, unit, quality FROM readings ORDER BY id").fetchall()
    return [Reading(s, p, t, math.nan if v is None else v, u, Quality(q)) for s, p, t, v, u, q in rows]
