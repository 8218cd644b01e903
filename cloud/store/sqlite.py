"""SQLite store: each envelope is accepted (or refused) in one transaction with its readings.

Exactly-once: an envelope is keyed by (gateway, seq) and a reading by (station, point, sample
time), so a re-delivered envelope changes nothing. The chain is checked against the neighbours
already stored, which also works when envelopes arrive out of order.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from watertel.envelope import GENESIS_HASH, Envelope
from watertel.readings import Quality, Reading

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
CREATE UNIQUE INDEX IF NOT EXISTS alarms_open ON alarms(station, point, type) WHERE state = 'raised';
"""


@dataclass(frozen=True)
class Accepted:
    """What became of an envelope: stored (with new readings and duplicates), or a duplicate."""

    status: str  # "stored" | "duplicate" | "refused"
    new_readings: tuple[Reading, ...] = ()
    duplicate_readings: int = 0
    reason: str = ""  # for "refused": chain_mismatch
    gap_before: bool = False  # the previous envelope has not arrived (yet)


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _hash_of(self, gateway_id: str, seq: int) -> bytes | None:
        row = self.db.execute("SELECT hash FROM envelopes WHERE gateway_id=? AND seq=?", (gateway_id, seq)).fetchone()
        return row[0] if row else None

    def _chain_ok(self, env: Envelope) -> tuple[bool, bool]:
        """(links with its stored neighbours, previous envelope missing).

        An envelope linked to the genesis hash starts a chain: a new gateway, or one whose buffer
        was replaced, starts at a time-based sequence number above any it used before.
        """
        before = GENESIS_HASH if env.prev_hash == GENESIS_HASH else self._hash_of(env.gateway_id, env.seq - 1)
        if before is not None and before != env.prev_hash:
            return False, False
        after = self.db.execute(
            "SELECT prev_hash FROM envelopes WHERE gateway_id=? AND seq=?", (env.gateway_id, env.seq + 1)
        ).fetchone()
        if after is not None and after[0] != env.hash:
            return False, False
        return True, before is None

    def accept(self, env: Envelope) -> Accepted:
        """Store an opened envelope and its readings atomically."""
        now = _now_ms()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            stored = self._hash_of(env.gateway_id, env.seq)
            if stored is not None:
                return Accepted("duplicate" if stored == env.hash else "refused", reason="" if stored == env.hash else "seq_reused")
            linked, gap = self._chain_ok(env)
            if not linked:
                return Accepted("refused", reason="chain_mismatch")
            self.db.execute(
                "INSERT INTO envelopes VALUES (?,?,?,?,?,?,?,?)",
                (env.gateway_id, env.seq, env.hash, env.prev_hash, env.key_id, env.created_ms, now, len(env.readings)),
            )
            new = []
            for r in env.readings:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?,?)",
                    (r.station, r.point, r.t_ms, None if math.isnan(r.value) else r.value, r.unit, int(r.quality),
                     env.gateway_id, env.seq, now),
                )
                if cur.rowcount:
                    new.append(r)
        return Accepted("stored", tuple(new), len(env.readings) - len(new), gap_before=gap)

    def quarantine(self, topic: str, payload: bytes, reason: str, detail: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO quarantine (received_ms, topic, reason, detail, payload) VALUES (?,?,?,?,?)",
                (_now_ms(), topic, reason, detail, payload),
            )

    # --- alarms -------------------------------------------------------------------------------
    def raise_alarm(self, station: str, point: str, type_: str, severity: str, message: str, t_ms: int) -> bool:
        """Open an alarm unless one of the same kind is already open; True if a new one opened."""
        with self.db:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO alarms (station, point, type, severity, state, message, raised_ms)"
                " VALUES (?,?,?,?,'raised',?,?)", (station, point, type_, severity, message, t_ms))
        return cur.rowcount == 1

    def clear_alarm(self, station: str, point: str, type_: str, t_ms: int) -> bool:
        with self.db:
            cur = self.db.execute(
                "UPDATE alarms SET state='cleared', cleared_ms=? WHERE station=? AND point=? AND type=? AND state='raised'",
                (t_ms, station, point, type_))
        return cur.rowcount == 1

    # --- queries for the API, reports and the demo ---------------------------------------------
    def readings(self, station: str | None = None) -> list[Reading]:
        sql = "SELECT station, point, t_ms, value, unit, quality FROM readings"
        rows = self.db.execute(sql + (" WHERE station=?" if station else "") + " ORDER BY station, point, t_ms",
                               (station,) if station else ()).fetchall()
        return [Reading(s, p, t, math.nan if v is None else v, u, Quality(q)) for s, p, t, v, u, q in rows]

    def latest(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT station, point, max(t_ms), value, unit, quality FROM readings GROUP BY station, point ORDER BY station, point"
        ).fetchall()
        return [{"station": s, "point": p, "t_ms": t, "value": v, "unit": u, "quality": Quality(q).name}
                for s, p, t, v, u, q in rows]

    def alarms(self, open_only: bool = False) -> list[dict]:
        sql = "SELECT id, station, point, type, severity, state, message, raised_ms, cleared_ms FROM alarms"
        rows = self.db.execute(sql + (" WHERE state='raised'" if open_only else "") + " ORDER BY raised_ms DESC").fetchall()
        keys = ("id", "station", "point", "type", "severity", "state", "message", "raised_ms", "cleared_ms")
        return [dict(zip(keys, row)) for row in rows]

    def station_stats(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT station, count(*), count(*) FILTER (WHERE quality != 0), min(t_ms), max(t_ms),"
            " (SELECT count(*) FROM alarms a WHERE a.station = r.station AND a.state = 'raised')"
            " FROM readings r GROUP BY station ORDER BY station").fetchall()
        keys = ("station", "readings", "faulty", "first_ms", "last_ms", "open_alarms")
        return [dict(zip(keys, row)) for row in rows]

    def counts(self) -> dict:
        """Totals for the demo summary and the console header."""
        db = self.db
        envelopes, stored = db.execute("SELECT count(*), coalesce(sum(n), 0) FROM envelopes").fetchone()
        readings = db.execute("SELECT count(*) FROM readings").fetchone()[0]
        refused = dict(db.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall())
        alarms = dict(db.execute("SELECT type, count(*) FROM alarms GROUP BY type").fetchall())
        return {"envelopes": envelopes, "readings_in_envelopes": stored, "readings": readings,
                "refused": refused, "alarms": alarms}
