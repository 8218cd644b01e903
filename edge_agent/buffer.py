"""The durable buffer: every reading is committed to SQLite before anything else happens to it.

WAL with ``synchronous=FULL``: a commit survives a power cut. Sealing a batch (assigning the
sequence number, signing, linking the chain) is one transaction with marking its readings, so
after a crash a reading is either in exactly one sealed batch or still waiting; a batch is
re-sent, never re-sealed, so the cloud sees the same bytes again and drops the duplicate.

Bounded by size: sent history goes first; if unsent data alone exceeds the limit, the policy
applies (``drop_oldest`` deletes the oldest unsent readings, ``drop_newest`` stops recording new
ones) and every dropped reading is counted. A file SQLite cannot read is moved aside and a new
chain starts (at a time-based sequence number the cloud has not seen, linked to the genesis hash),
so the agent keeps polling instead of crash-looping.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watertel import private
from watertel.envelope import GENESIS_HASH, ChainState
from watertel.readings import Quality, Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, point TEXT NOT NULL, t_ms INTEGER NOT NULL,
    value REAL, unit TEXT NOT NULL, quality INTEGER NOT NULL, seq INTEGER, added_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS readings_unsealed ON readings(id) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS readings_sealed ON readings(seq) WHERE seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY, data BLOB NOT NULL, n INTEGER NOT NULL, sealed_ms INTEGER NOT NULL, sent_ms INTEGER);
CREATE INDEX IF NOT EXISTS batches_unsent ON batches(seq) WHERE sent_ms IS NULL;
CREATE TABLE IF NOT EXISTS chain (
    id INTEGER PRIMARY KEY CHECK (id = 1), gateway_id TEXT NOT NULL, next_seq INTEGER NOT NULL, prev_hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commands_seen (id TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS status_session (id INTEGER PRIMARY KEY CHECK (id = 1), session INTEGER NOT NULL);
"""
DROP_POLICIES = ("drop_oldest", "drop_newest")
PRUNE_ROWS = 5000  # readings deleted per transaction, so pruning never blocks polling for long
log = logging.getLogger("watertel.edge.buffer")

Sealer = Callable[[list[Reading], ChainState], tuple[bytes, ChainState]]


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Batch:
    seq: int
    data: bytes
    n: int


class BufferFull(Exception):
    """Readings could not be recorded: the disk (or the size limit) left no room."""


def _is_full(err: sqlite3.Error) -> bool:
    return getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(err)


def _open(path: Path) -> sqlite3.Connection:
    private.touch(path)  # 0600 whatever the umask, and so its -wal/-shm
    private.restrict(path, sqlite=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    (verdict,) = db.execute("PRAGMA quick_check").fetchone()
    if verdict != "ok":
        db.close()
        raise sqlite3.DatabaseError(f"quick_check: {verdict}")
    db.executescript(SCHEMA)
    return db


def _set_aside(path: Path, err: sqlite3.Error) -> tuple[int, bytes] | None:
    """Move an unreadable buffer out of the way; return its chain position if it can still be read."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            position = db.execute("SELECT next_seq, prev_hash FROM chain").fetchone()
    except sqlite3.Error:
        position = None
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(f"{path}.corrupt-{stamp}{suffix}")
    log.error("buffer %s is unreadable (%s): moved aside to %s.corrupt-%s, starting a new buffer%s",
              path, err, path, stamp, "" if position else " and a new chain")
    return position


class Buffer:
    """One SQLite file per gateway; used from one thread (the agent's event loop)."""

    def __init__(self, path: Path, gateway_id: str, max_bytes: int | None = None,
                 when_full: str = "drop_oldest") -> None:
        if when_full not in DROP_POLICIES:
            raise ValueError(f"when_full must be one of {DROP_POLICIES}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.max_bytes, self.when_full = path, max_bytes, when_full
        self._unwritten: Counter[str] = Counter()  # counts a full disk kept from being written
        position = None
        try:
            self.db = _open(path)
        except sqlite3.DatabaseError as err:
            position = _set_aside(path, err)
            self.db = _open(path)
        row = self.db.execute("SELECT gateway_id FROM chain").fetchone()
        if row is None:  # a new chain: continue the old one if known, else start where no old seq can be
            next_seq, prev_hash = position or (_now_ms(), GENESIS_HASH)
            self.db.execute("INSERT INTO chain VALUES (1, ?, ?, ?)", (gateway_id, next_seq, prev_hash))
        elif row[0] != gateway_id:
            raise ValueError(f"buffer {path} belongs to gateway {row[0]!r}, not {gateway_id!r}")

    def close(self) -> None:
        self.db.close()

    def add(self, readings: list[Reading]) -> None:
        """Commit readings (one transaction per poll); raise BufferFull when there is no room."""
        if self.when_full == "drop_newest" and self.max_bytes and self.used_bytes() > self.max_bytes:
            self.make_room()
            if self.used_bytes() > self.max_bytes:
                self._count("dropped", len(readings))
                raise BufferFull(f"buffer over {self.max_bytes} bytes of unsent data (policy drop_newest)")
        try:
            self._insert(readings)
        except sqlite3.OperationalError as err:
            if not _is_full(err):
                raise
            log.error("buffer %s: %s; freeing space", self.path, err)
            try:
                self.make_room(force=True)  # deleting needs a little disk too (the journal)
                self._insert(readings)
            except sqlite3.OperationalError as again:
                if not _is_full(again):
                    raise
                self._count("unrecorded", len(readings))
                raise BufferFull(f"buffer {self.path}: {again}") from again

    def _insert(self, readings: list[Reading]) -> None:
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
            self._count("recorded", len(rows))

    # --- size bound -----------------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes in use in the database file (free pages excluded; they are reused)."""
        pages = self.db.execute("PRAGMA page_count").fetchone()[0] - self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return pages * self.db.execute("PRAGMA page_size").fetchone()[0]

    def make_room(self, force: bool = False) -> int:
        """Bring the buffer under 90 % of its limit: sent history first, then the policy.

        ``force`` (the disk is full) frees at least one round of rows even under the limit.
        Returns the number of readings deleted.
        """
        target = int(self.max_bytes * 0.9) if self.max_bytes else None
        over = lambda: force or (target is not None and self.used_bytes() > target)
        deleted = 0
        while over():
            n = self._delete_oldest(sent=True)
            if not n and self.when_full == "drop_oldest":
                n = self._delete_oldest(sent=False)
                self._count("dropped", n)
                if n:
                    log.warning("buffer %s full: dropped the %d oldest unsent readings", self.path, n)
            deleted += n
            if not n or force:
                break
        return deleted

    def _delete_oldest(self, sent: bool) -> int:
        """Delete up to PRUNE_ROWS of the oldest readings that are sent (or, else, not sent)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if sent:
                seqs = [s for (s,) in self.db.execute(
                    "SELECT seq FROM batches WHERE sent_ms IS NOT NULL ORDER BY seq LIMIT 100")]
            else:  # unsent batches are dropped whole, so the cloud never sees a half batch
                seqs = [s for (s,) in self.db.execute("SELECT seq FROM batches WHERE sent_ms IS NULL ORDER BY seq LIMIT 10")]
            if seqs:
                marks = ",".join("?" * len(seqs))
                n = self.db.execute(f"DELETE FROM readings WHERE seq IN ({marks})", seqs).rowcount
                self.db.execute(f"DELETE FROM batches WHERE seq IN ({marks})", seqs)
                return n
            if sent:
                return 0
            return self.db.execute("DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE seq IS NULL "
                                   "ORDER BY id LIMIT ?)", (PRUNE_ROWS,)).rowcount

    def _count(self, name: str, n: int) -> None:
        """Add to a counter. Inside a transaction it commits or fails with it; outside, on a full
        disk, it waits in memory and is written with the next count of that name."""
        sql = "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n"
        if self.db.in_transaction:
            self.db.execute(sql, (name, n))
            return
        pending = self._unwritten[name] + n
        if not pending:
            return
        try:
            self.db.execute(sql, (name, pending))
        except sqlite3.OperationalError as err:
            if not _is_full(err):
                raise
            self._unwritten[name] = pending
            return
        self._unwritten[name] = 0

    def next_status_session(self) -> int:
        """A number for a new MQTT session's signed status messages (watertel/presence.py): above
        every one this buffer gave before, the time in ms when the clock allows (a clock set back
        after a reboot must not make the cloud take the new session's messages for old ones)."""
        row = self.db.execute("SELECT session FROM status_session").fetchone()
        session = max(_now_ms(), row[0] + 1 if row else 0)
        with self.db:
            self.db.execute("INSERT INTO status_session VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET session = excluded.session",
                            (session,))
        return session

    def counters(self) -> dict[str, int]:
        """Readings ever ``recorded``, lost to the size limit (``dropped``) or to a full disk (``unrecorded``)."""
        stored = Counter(dict(self.db.execute("SELECT name, n FROM counters").fetchall()))
        return dict(stored + self._unwritten)

    # --- sealing and sending ----------------------------------------------------------------------
    def unsealed(self) -> tuple[int, int | None]:
        """Count of readings waiting to be sealed and the time the oldest was added."""
        n, oldest = self.db.execute("SELECT count(*), min(added_ms) FROM readings WHERE seq IS NULL").fetchone()
        return n, oldest

    def seal_due(self, max_readings: int, max_latency_s: float, sealer: Sealer, force: bool = False) -> int:
        """Seal full batches, and a partial one once its oldest reading waited ``max_latency_s``
        (every waiting reading with ``force``); returns how many batches were sealed."""
        sealed = 0
        while True:
            waiting, oldest_ms = self.unsealed()
            old = oldest_ms is not None and _now_ms() - oldest_ms >= max_latency_s * 1000
            if not waiting or not (force or old or waiting >= max_readings):
                return sealed
            self.seal_next(max_readings, sealer)
            sealed += 1

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

    def unsent(self, limit: int, from_seq: int = 0, before_seq: int = 2**64) -> list[Batch]:
        """The oldest unsent batches with ``from_seq <= seq < before_seq``."""
        rows = self.db.execute(
            "SELECT seq, data, n FROM batches WHERE sent_ms IS NULL AND seq >= ? AND seq < ? ORDER BY seq LIMIT ?",
            (from_seq, min(before_seq, 2**63 - 1), limit),
        ).fetchall()
        return [Batch(*row) for row in rows]

    def last_values(self) -> dict[tuple[str, str], float]:
        """The newest good value of each station and point (where totalisers left off)."""
        rows = self.db.execute(
            "SELECT station, point, value FROM readings WHERE id IN "
            "(SELECT max(id) FROM readings WHERE value IS NOT NULL GROUP BY station, point)").fetchall()
        return {(s, p): v for s, p, v in rows}

    def remember_command(self, command_id: str, expires_ms: int) -> bool:
        """Note a command id until it expires; False if it was seen already (a replay)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM commands_seen WHERE expires_ms < ?", (_now_ms(),))
            return self.db.execute("INSERT OR IGNORE INTO commands_seen VALUES (?, ?)",
                                   (command_id, expires_ms)).rowcount == 1

    def batch_data(self, seq: int) -> bytes | None:
        """The bytes of batch ``seq`` if it is still here (a notice names the envelope it refused)."""
        if not 0 < seq < 2**63:
            return None
        row = self.db.execute("SELECT data FROM batches WHERE seq = ?", (seq,)).fetchone()
        return bytes(row[0]) if row else None

    def newest_unsent(self) -> Batch | None:
        row = self.db.execute("SELECT seq, data, n FROM batches WHERE sent_ms IS NULL ORDER BY seq DESC LIMIT 1").fetchone()
        return Batch(*row) if row else None

    def requeue(self, first: int, last: int) -> tuple[int, int]:
        """Mark the sent batches ``first..last`` unsent again, so the uplink publishes the same bytes
        once more: the cloud asks when it finds a hole in the chain that a broker lost after
        acknowledging it. Returns (batches requeued, sequence numbers no longer here: pruned as
        sent history, or never sealed by this buffer)."""
        with self.db:
            requeued = self.db.execute("UPDATE batches SET sent_ms = NULL WHERE seq BETWEEN ? AND ? AND sent_ms IS NOT NULL",
                                       (first, last)).rowcount
            (present,) = self.db.execute("SELECT count(*) FROM batches WHERE seq BETWEEN ? AND ?", (first, last)).fetchone()
        return requeued, last - first + 1 - present

    def mark_sent(self, seqs: list[int]) -> None:
        with self.db:
            self.db.executemany("UPDATE batches SET sent_ms = ? WHERE seq = ?", [(_now_ms(), s) for s in seqs])

    def stats(self) -> dict[str, int]:
        """Counts for progress output and the demo summary."""
        (unsealed,) = self.db.execute("SELECT count(*) FROM readings WHERE seq IS NULL").fetchone()
        sent, pending = self.db.execute(
            "SELECT coalesce(sum(n) FILTER (WHERE sent_ms IS NOT NULL), 0), count(*) FILTER (WHERE sent_ms IS NULL)"
            " FROM batches").fetchone()
        counters = self.counters()
        return {"polled": counters.pop("recorded", 0), "unsealed": unsealed, "published": sent,
                "batches_pending": pending, "bytes": self.used_bytes(), **counters}


def read_all(path: Path) -> list[Reading]:
    """Every reading a buffer file holds (for reconciliation and `watertel report`)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT station, point, t_ms, value, unit, quality FROM readings ORDER BY id").fetchall()
    return [Reading(s, p, t, math.nan if v is None else v, u, Quality(q)) for s, p, t, v, u, q in rows]
