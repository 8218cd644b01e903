"""SQLite store, the default: one file in the data directory, WAL, synchronous=FULL.

One writer at a time (``BEGIN IMMEDIATE``), which also serialises each gateway's chain checks.
SQLite integers are signed 64-bit: sequence numbers are stored shifted by -2**63, which keeps
their order and their differences.
"""

from __future__ import annotations

import asyncio
import fcntl
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from watertel import private
from watertel.cloud.store.changes import KINDS
from watertel.cloud.store.envelopes import Accepted
from watertel.cloud.store.schema import (ALARM_MESSAGE_COLUMNS, AUDIT_TABLE, DIRTY_BUCKET_MS, FIELD_WORK_TABLES,
                                         HOURLY_TABLES, LIFECYCLE_TABLES, MARK_DIRTY, QUARANTINE_COLUMNS, ROLLUP_TABLES,
                                         SCHEMA_VERSION, pending_migrations)
from watertel.cloud.store.sql import SqlStore
from watertel.envelope import Envelope
from watertel.readings import Reading

__all__ = ["Accepted", "SqliteStore"]
SEQ_SHIFT = 2**63

SERIAL = "INTEGER PRIMARY KEY"  # an auto-numbered key (alarm history, work orders, outbox)
SCHEMA = """
CREATE TABLE IF NOT EXISTS envelopes (
    gateway_id TEXT NOT NULL, seq INTEGER NOT NULL, hash BLOB NOT NULL, prev_hash BLOB NOT NULL,
    key_id TEXT NOT NULL, created_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings (
    station TEXT NOT NULL, point TEXT NOT NULL, t_ms INTEGER NOT NULL, value REAL, unit TEXT NOT NULL,
    quality INTEGER NOT NULL, gateway_id TEXT NOT NULL, seq INTEGER NOT NULL, received_ms INTEGER NOT NULL,
    PRIMARY KEY (station, point, t_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, point TEXT NOT NULL, type TEXT NOT NULL,
    severity TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL,
    raised_ms INTEGER NOT NULL, cleared_ms INTEGER);
CREATE INDEX IF NOT EXISTS envelopes_received ON envelopes(received_ms);
""" + ";".join([AUDIT_TABLE, *ROLLUP_TABLES, *(q.replace("{serial}", SERIAL) for q in [*LIFECYCLE_TABLES, *FIELD_WORK_TABLES]),
                *HOURLY_TABLES, *ALARM_MESSAGE_COLUMNS, *QUARANTINE_COLUMNS])


class SqliteStore(SqlStore):
    def __init__(self, path: Path, migrate: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.identity = f"sqlite:{path.resolve()}"
        private.touch(path)  # 0600 before SQLite creates it: its -wal and -shm take the file's mode
        private.restrict(path, sqlite=True)  # a store made before (or by hand) under a wider umask
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for attempt in range(50):  # several workers starting on a new file: one sets it up, the others wait
            try:
                self._set_up(migrate)
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or attempt == 49:
                    raise
                time.sleep(0.2)

    def _set_up(self, migrate: bool) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            for sql in ([] if version else [q for q in SCHEMA.split(";") if q.strip()]) + \
                    pending_migrations(version, str(self.path), migrate):
                self.db.execute(sql)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def _seq(self, seq: int) -> int:
        return seq - SEQ_SHIFT

    def _from_seq(self, stored: int) -> int:
        return stored + SEQ_SHIFT

    def _execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        self.db.executemany(sql, rows)

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._collecting(), self.db:  # listeners hear the changes once committed (changes.py)
            self.db.execute("BEGIN IMMEDIATE")
            yield

    async def watch_others(self, hear: Callable[[frozenset[str]], None], poll_s: float) -> None:
        """Other processes' commits: ``PRAGMA data_version`` on a read-only connection of its own
        moves when any other connection commits; read every ``poll_s`` (the fallback poll)."""
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        # a cancelled await leaves its read running in the worker thread: closing the connection
        # under it crashed the process (SIGSEGV in sqlite3), so the close waits for the read
        using = threading.Lock()

        def read() -> int:
            with using:
                return db.execute("PRAGMA data_version").fetchone()[0]
        try:
            seen = await asyncio.to_thread(read)
            while True:
                await asyncio.sleep(poll_s)
                now = await asyncio.to_thread(read)
                if now != seen:
                    seen = now
                    hear(KINDS)  # the counter does not say what changed
        finally:
            with using:  # at most one PRAGMA read long
                db.close()

    def _insert(self, env: Envelope, received_ms: int) -> list[Reading]:
        self.db.execute("INSERT INTO envelopes VALUES (?,?,?,?,?,?,?,?)", self._envelope_row(env, received_ms))
        new = []
        for r in env.readings:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?,?)",
                (r.station, r.point, r.t_ms, None if math.isnan(r.value) else r.value, r.unit, int(r.quality),
                 env.gateway_id, self._seq(env.seq), received_ms))
            if cur.rowcount:
                new.append(r)
        if new:  # the rollups of these readings' days are out of date (rollups.py)
            self.db.executemany(MARK_DIRTY, {(r.station, r.t_ms // DIRTY_BUCKET_MS) for r in new})
        return new

    @contextmanager
    def rollup_lock(self) -> Iterator[None]:
        with open(self.path.with_name(self.path.name + ".rollups.lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield
