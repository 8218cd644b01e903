"""What every store back-end does, written once in the SQL that SQLite and PostgreSQL share.

Exactly-once: an envelope is keyed by (gateway, seq) and a reading by (station, point, sample
time), so a re-delivered envelope changes nothing. The chain is checked against the neighbours
already stored, which also works when envelopes arrive out of order. A back-end supplies the
connection, the schema, a write transaction and the bulk insert of readings; queries use ``?``
placeholders.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterator

from watertel.cloud.store.handling import AlarmHandling
from watertel.envelope import GENESIS_HASH, Envelope
from watertel.errors import OperatorError
from watertel.readings import Quality, Reading


# The audit log (cloud/audit.py): append-only, each row SM3-chained to the one before; ids are
# given by the writer (1, 2, …) so a deleted row shows as a gap. Hashes are hex text.
AUDIT_TABLE = """CREATE TABLE IF NOT EXISTS audit (
    id BIGINT PRIMARY KEY, t_ms BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, client TEXT NOT NULL,
    method TEXT NOT NULL, path TEXT NOT NULL, summary TEXT NOT NULL, status INTEGER NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"""

# Day rollups of the rates (cloud/quality/rollups.py). Ingest marks the 15-minute buckets
# (t_ms // DIRTY_BUCKET_MS: every zone's local midnight falls on one) of each station that got new
# readings, in the transaction that stores them (a mark already there is left alone: no lock, no
# write). A refresh moves marks to rollup_claimed, waits for writers then in flight (``_settle``),
# recomputes the station-days from the raw readings and deletes its claimed marks with the upsert
# of rate_days; a reading stored meanwhile makes a new mark for the next round.
# rate_days holds a station's counts for the local day starting at day_ms, and the basis (hash of
# the registry entry and settings) they were counted with; keyed by day first, as reports read a
# period for many stations.
DIRTY_BUCKET_MS = 900_000
ROLLUP_TABLES = [
    *(f"CREATE TABLE IF NOT EXISTS {name} (station TEXT NOT NULL, bucket BIGINT NOT NULL, PRIMARY KEY (station, bucket))"
      for name in ("rollup_dirty", "rollup_claimed")),
    "CREATE TABLE IF NOT EXISTS rate_days (day_ms BIGINT NOT NULL, station TEXT NOT NULL, basis TEXT NOT NULL,"
    " received INTEGER NOT NULL, on_time INTEGER NOT NULL, future INTEGER NOT NULL, flagged INTEGER NOT NULL,"
    " PRIMARY KEY (day_ms, station))",
]
MARK_DIRTY = "INSERT INTO rollup_dirty (station, bucket) VALUES (?, ?) ON CONFLICT DO NOTHING"
# The newest reading of each (station, point): a loose index scan over the readings' key (SqlStore.latest)
_NEXT_POINT = "(SELECT r.point FROM readings r WHERE r.station = k.station AND r.point > k.point ORDER BY r.point LIMIT 1)"
_NEXT_STATION = "(SELECT r.station FROM readings r WHERE r.station > k.station ORDER BY r.station LIMIT 1)"
LATEST = (
    "WITH RECURSIVE k(station, point) AS ("
    " SELECT station, point FROM (SELECT station, point FROM readings ORDER BY station, point LIMIT 1) first_key"
    f" UNION ALL SELECT CASE WHEN {_NEXT_POINT} IS NOT NULL THEN k.station ELSE {_NEXT_STATION} END,"
    f" coalesce({_NEXT_POINT}, (SELECT r.point FROM readings r WHERE r.station = {_NEXT_STATION} ORDER BY r.point LIMIT 1))"
    " FROM k WHERE k.station IS NOT NULL)"
    " SELECT r.station, r.point, r.t_ms, r.value, r.unit, r.quality FROM k JOIN readings r"
    " ON r.station = k.station AND r.point = k.point"
    " AND r.t_ms = (SELECT max(x.t_ms) FROM readings x WHERE x.station = k.station AND x.point = k.point)"
    " ORDER BY r.station, r.point")

# Hour rollups of each point (cloud/quality/hourly.py), refreshed with rate_days from the same marks:
# per UTC hour starting at hour_ms, the interval slots expected, received, received on time and
# abnormal (received, none of its readings trusted and in the past), ``readings`` (raw rows of
# any quality: a refresh never lowers it, so hours whose raw rows retention removed stay as they
# were), min/max/sum/count of the trusted values (mean = value_sum / value_count) and, for
# ``total`` points, the volume (totaliser steps whose later reading lies in the hour). Day figures
# are sums, min and max over a local day's hours (hourly.day_rollups). Kept ``retention.hourly_days``.
HOURLY_TABLES = [
    "CREATE TABLE IF NOT EXISTS point_hours (station TEXT NOT NULL, point TEXT NOT NULL, hour_ms BIGINT NOT NULL,"
    " expected INTEGER NOT NULL, received INTEGER NOT NULL, on_time INTEGER NOT NULL, abnormal INTEGER NOT NULL,"
    " readings INTEGER NOT NULL, value_count INTEGER NOT NULL, value_min DOUBLE PRECISION,"
    " value_max DOUBLE PRECISION, value_sum DOUBLE PRECISION, volume DOUBLE PRECISION,"
    " PRIMARY KEY (station, point, hour_ms))",
    "CREATE INDEX IF NOT EXISTS point_hours_hour ON point_hours(hour_ms)",  # retention by age
]

# The alarm lifecycle (cloud/alarms/lifecycle.py, cloud/store/handling.py): an alarm is open while
# raised or acknowledged (one per rule and target); its history is append-only; alarm_status holds
# who acknowledged, assigned or closed it, its escalation level, flapping and maintenance flags (a
# row per alarm from version 5 on: older alarms read as defaults); work orders come from alarms; the
# notification outbox is filled from the history (notify_cursor: the last history row routed) and
# emptied by delivery, so a notification survives a crash or an unreachable endpoint. ``{serial}``
# is each back-end's auto-numbered key.
OPEN_STATES = "('raised','acknowledged')"
OPEN_STATES_LIST = ("raised", "acknowledged")
LIFECYCLE_TABLES = [
    "DROP INDEX IF EXISTS alarms_open",
    f"CREATE UNIQUE INDEX IF NOT EXISTS alarms_open ON alarms(station, point, type) WHERE state IN {OPEN_STATES}",
    "CREATE TABLE IF NOT EXISTS alarm_history (id {serial}, alarm_id BIGINT NOT NULL, t_ms BIGINT NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, note TEXT NOT NULL, level INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS alarm_history_alarm ON alarm_history(alarm_id)",
    "CREATE TABLE IF NOT EXISTS alarm_status (alarm_id BIGINT PRIMARY KEY, acked_by TEXT, acked_ms BIGINT,"
    " assignee TEXT, closed_by TEXT, closed_ms BIGINT, level INTEGER NOT NULL DEFAULT 0, escalated_ms BIGINT,"
    " flapping INTEGER NOT NULL DEFAULT 0, calm_since_ms BIGINT, suppressed INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS work_orders (id {serial}, alarm_id BIGINT NOT NULL, station TEXT NOT NULL,"
    " title TEXT NOT NULL, state TEXT NOT NULL, created_ms BIGINT NOT NULL, created_by TEXT NOT NULL,"
    " assignee TEXT, due_ms BIGINT NOT NULL, accepted_ms BIGINT, reported_ms BIGINT, report TEXT NOT NULL DEFAULT '',"
    " closed_ms BIGINT, closed_by TEXT, overdue_ms BIGINT)",
    "CREATE UNIQUE INDEX IF NOT EXISTS work_orders_open ON work_orders(alarm_id) WHERE state != 'closed'",
    "CREATE TABLE IF NOT EXISTS notify_outbox (id {serial}, history_id BIGINT NOT NULL, channel TEXT NOT NULL,"
    " address TEXT NOT NULL, payload TEXT NOT NULL, created_ms BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_ms BIGINT NOT NULL, sent_ms BIGINT, last_error TEXT NOT NULL DEFAULT '', UNIQUE (history_id, channel, address))",
    "CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox(next_ms) WHERE sent_ms IS NULL",
    "CREATE TABLE IF NOT EXISTS notify_cursor (name TEXT PRIMARY KEY, last_id BIGINT NOT NULL)",
]

# Each schema change raises SCHEMA_VERSION and adds the SQL that takes a store from the version
# before to it (SQL both back-ends accept); a new store is created at the latest version directly.
MIGRATIONS: dict[int, list[str]] = {
    2: ["CREATE INDEX IF NOT EXISTS envelopes_received ON envelopes(received_ms)"],  # chain-gap scans
    3: [AUDIT_TABLE],
    4: ROLLUP_TABLES,
    5: LIFECYCLE_TABLES,
    6: HOURLY_TABLES,
}
SCHEMA_VERSION = max(MIGRATIONS)


class StoreError(OperatorError):
    """A store this code must not use (e.g. made by a newer watertel); the message says what to do."""


def pending_migrations(found: int, where: str, migrate: bool, serial: str = "INTEGER PRIMARY KEY") -> list[str]:
    """The SQL to bring a store at version ``found`` to SCHEMA_VERSION (0: a new store, nothing);
    ``serial``: the back-end's auto-numbered primary key column.

    A newer store is refused (this code could lose data there); an older one is upgraded only when
    asked (`watertel cloud migrate`), so an upgrade is a decision made with a backup at hand.
    """
    if found > SCHEMA_VERSION:
        raise StoreError(f"{where} has schema version {found}, newer than this watertel knows ({SCHEMA_VERSION}):"
                         " upgrade watertel, or restore a backup made with this version")
    if found == 0 or found == SCHEMA_VERSION:
        return []
    if not migrate:
        raise StoreError(f"{where} has schema version {found}, older than this watertel ({SCHEMA_VERSION}):"
                         " back it up (`watertel cloud backup`), then run `watertel cloud migrate`")
    return [sql.replace("{serial}", serial) for version in range(found + 1, SCHEMA_VERSION + 1)
            for sql in MIGRATIONS[version]]


@dataclass(frozen=True)
class Accepted:
    """What became of an envelope: stored (with new readings and duplicates), or a duplicate."""

    status: str  # "stored" | "duplicate" | "refused"
    new_readings: tuple[Reading, ...] = ()
    duplicate_readings: int = 0
    reason: str = ""  # for "refused": chain_mismatch, seq_reused
    gap_before: bool = False  # the previous envelope has not arrived (yet)


def now_ms() -> int:
    return int(time.time() * 1000)


def to_reading(row: tuple) -> Reading:
    s, p, t, v, u, q = row
    return Reading(s, p, t, math.nan if v is None else v, u, Quality(q))


class SqlStore(AlarmHandling, ABC):
    # --- what a back-end provides ----------------------------------------------------------------
    @abstractmethod
    def _execute(self, sql: str, params: tuple = ()) -> Any:
        """Run one statement (``?`` placeholders); return a cursor."""

    @abstractmethod
    def _write(self) -> AbstractContextManager:
        """A write transaction that serialises writers of the same chain."""

    @abstractmethod
    def _insert(self, env: Envelope, received_ms: int) -> list[Reading]:
        """Insert the envelope's row and those of its readings not stored yet; return the latter."""

    def _envelope_row(self, env: Envelope, received_ms: int) -> tuple:
        return (env.gateway_id, self._seq(env.seq), env.hash, env.prev_hash, env.key_id, env.created_ms, received_ms,
                len(env.readings))

    @abstractmethod
    def close(self) -> None: ...

    def _seq(self, seq: int) -> int:
        """A sequence number (unsigned 64-bit) as the back-end stores it."""
        return seq

    def _from_seq(self, stored: Any) -> int:
        """The sequence number back from what the back-end stored."""
        return int(stored)

    def _lock_chain(self, gateway_id: str) -> None:
        """Hold writers of this gateway's chain off until the transaction ends (if needed)."""

    def _rollup_lock(self) -> AbstractContextManager:
        """Held by a rollup refresh, across processes: two refreshes never write the same days."""
        return nullcontext()

    def _settle(self) -> None:
        """Return once every write transaction in flight now has ended (rollup marks: a writer that
        found a bucket already marked must have committed before the refresh reads its rows)."""

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._execute(sql, params).fetchall()

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        """Run one statement once per row of parameters (a back-end may batch the round trips)."""
        for row in rows:
            self._execute(sql, row)

    # --- envelopes ----------------------------------------------------------------------------
    def _neighbours(self, env: Envelope) -> dict[int, tuple[bytes, bytes]]:
        """(hash, prev_hash) of the stored envelopes at seq - 1, seq and seq + 1: one round trip."""
        seqs = [self._seq(s) for s in (env.seq - 1, env.seq, env.seq + 1) if 0 <= s < 2**64]
        rows = self._rows(f"SELECT seq, hash, prev_hash FROM envelopes WHERE gateway_id=? AND seq IN ({','.join('?' * len(seqs))})",
                          (env.gateway_id, *seqs))
        return {self._from_seq(seq): (bytes(h), bytes(p)) for seq, h, p in rows}

    @staticmethod
    def _chain_ok(env: Envelope, near: dict[int, tuple[bytes, bytes]]) -> tuple[bool, bool]:
        """(links with its stored neighbours, previous envelope missing).

        An envelope linked to the genesis hash starts a chain: a new gateway, or one whose buffer
        was replaced, starts at a time-based sequence number above any it used before.
        """
        before = GENESIS_HASH if env.prev_hash == GENESIS_HASH else near.get(env.seq - 1, (None,))[0]
        if before is not None and before != env.prev_hash:
            return False, False
        after = near.get(env.seq + 1)
        if after is not None and after[1] != env.hash:
            return False, False
        return True, before is None

    def accept(self, env: Envelope) -> Accepted:
        """Store an opened envelope and its readings atomically."""
        return self.accept_many([env])[0]

    def accept_many(self, envs: list[Envelope]) -> list[Accepted]:
        """Store several envelopes in one transaction (one commit, one fsync), in the given order.

        Chains are locked in gateway order, so two workers with overlapping batches never deadlock.
        """
        now = now_ms()
        with self._write():
            for gateway_id in sorted({env.gateway_id for env in envs}):
                self._lock_chain(gateway_id)
            return [self._accept_one(env, now) for env in envs]

    def _accept_one(self, env: Envelope, now: int) -> Accepted:
        near = self._neighbours(env)
        if env.seq in near:
            return Accepted("duplicate") if near[env.seq][0] == env.hash else Accepted("refused", reason="seq_reused")
        linked, gap = self._chain_ok(env, near)
        if not linked:
            return Accepted("refused", reason="chain_mismatch")
        new = self._insert(env, now)
        return Accepted("stored", tuple(new), len(env.readings) - len(new), gap_before=gap)

    def chain_gaps(self, received_before_ms: int) -> dict[str, list[int]]:
        """Per gateway, the sequence numbers still missing just before an envelope that arrived
        by ``received_before_ms`` (a late envelope gets that long to fill its hole)."""
        return {gw: [last for _, last in holes] for gw, holes in self.chain_holes(received_before_ms).items()}

    def chain_holes(self, received_before_ms: int, max_span: int = 10_000) -> dict[str, list[tuple[int, int]]]:
        """Per gateway, each run of missing sequence numbers ``(first, last)`` before an envelope
        that arrived by ``received_before_ms``: from the stored one below it (or ``max_span`` back
        when none is) to the one just before it."""
        rows = self._rows(
            "SELECT e.gateway_id, e.seq, (SELECT max(b.seq) FROM envelopes b WHERE b.gateway_id = e.gateway_id"
            " AND b.seq < e.seq) FROM envelopes e WHERE e.prev_hash != ? AND e.received_ms <= ?"
            " AND NOT EXISTS (SELECT 1 FROM envelopes p WHERE p.gateway_id = e.gateway_id AND p.seq = e.seq - 1)"
            " ORDER BY e.gateway_id, e.seq", (GENESIS_HASH, received_before_ms))
        holes: dict[str, list[tuple[int, int]]] = {}
        for gateway_id, seq, below in rows:
            last = self._from_seq(seq) - 1
            first = self._from_seq(below) + 1 if below is not None else max(1, last - max_span + 1)
            holes.setdefault(gateway_id, []).append((first, last))
        return holes

    def delete_readings_before(self, t_ms: int, limit: int = 5000, point: str | None = None,
                               except_points: tuple[str, ...] = ()) -> int:
        """Delete up to ``limit`` readings sampled before ``t_ms`` (retention); how many went.

        ``point``: only that point's readings; ``except_points``: not these (they have retention
        of their own). Small batches: each is its own short transaction, so ingest never waits long.
        """
        where, params = self._points_filter(point, except_points)
        with self._write():
            return self._execute(
                "DELETE FROM readings WHERE (station, point, t_ms) IN"
                f" (SELECT station, point, t_ms FROM readings WHERE t_ms < ?{where} LIMIT ?)",
                (t_ms, *params, limit)).rowcount

    @staticmethod
    def _points_filter(point: str | None, except_points: tuple[str, ...]) -> tuple[str, tuple]:
        """SQL (`` AND …``) and parameters selecting ``point``, or every point but ``except_points``."""
        if point is not None:
            return " AND point = ?", (point,)
        if except_points:
            return f" AND point NOT IN ({','.join('?' * len(except_points))})", tuple(except_points)
        return "", ()

    def delete_hours_before(self, hour_ms: int, limit: int = 5000) -> int:
        """Delete up to ``limit`` hour rollups (``point_hours``) of hours starting before ``hour_ms``."""
        with self._write():
            return self._execute(
                "DELETE FROM point_hours WHERE (station, point, hour_ms) IN"
                " (SELECT station, point, hour_ms FROM point_hours WHERE hour_ms < ? LIMIT ?)", (hour_ms, limit)).rowcount

    def ping(self) -> None:
        """Raise if the database does not answer."""
        self._rows("SELECT 1")

    def quarantine(self, topic: str, payload: bytes, reason: str, detail: str) -> None:
        with self._write():
            self._execute("INSERT INTO quarantine (received_ms, topic, reason, detail, payload) VALUES (?,?,?,?,?)",
                          (now_ms(), topic, reason, detail, payload))

    # --- alarms (their handling: cloud/store/handling.py) -----------------------------------------
    def raise_alarm(self, station: str, point: str, type_: str, severity: str, message: str, t_ms: int,
                    suppressed: bool = False) -> bool:
        """Open an alarm unless one of the same kind is already open; True if a new one opened.

        ``suppressed``: raised during the station's maintenance window (kept, never notified or
        escalated). An open alarm held because it flapped learns that its condition is back.
        """
        with self._write():
            rows = self._rows(
                "INSERT INTO alarms (station, point, type, severity, state, message, raised_ms)"
                " VALUES (?,?,?,?,'raised',?,?) ON CONFLICT DO NOTHING RETURNING id",
                (station, point, type_, severity, message, t_ms))
            if not rows:
                self._execute("UPDATE alarm_status SET calm_since_ms = NULL WHERE calm_since_ms IS NOT NULL AND alarm_id ="
                              f" (SELECT id FROM alarms WHERE station=? AND point=? AND type=? AND state IN {OPEN_STATES})",
                              (station, point, type_))
                return False
            self._execute("INSERT INTO alarm_status (alarm_id, suppressed) VALUES (?, ?)", (rows[0][0], int(suppressed)))
            self._history(rows[0][0], t_ms, "system", "raised", "suppressed: maintenance window" if suppressed else message)
            return True

    def clear_alarm(self, station: str, point: str, type_: str, t_ms: int,
                    flapping: tuple[int, int] | None = None) -> bool:
        """Clear the open alarm of this kind; True if one was cleared.

        ``flapping``: (N, window ms): an alarm raised more than N times in the window before
        ``t_ms`` is held raised and marked flapping instead (``Lifecycle.tick`` clears it once its
        condition has stayed away for the window).
        """
        with self._write():
            found = self._rows(
                "SELECT a.id, coalesce(s.flapping, 0) FROM alarms a LEFT JOIN alarm_status s ON s.alarm_id = a.id"
                f" WHERE a.station=? AND a.point=? AND a.type=? AND a.state IN {OPEN_STATES}", (station, point, type_))
            if not found:
                return False
            (alarm_id, flapped), = found
            if flapping and not flapped:
                (raises,), = self._rows("SELECT count(*) FROM alarms WHERE station=? AND point=? AND type=? AND raised_ms > ?",
                                        (station, point, type_, t_ms - flapping[1]))
                if raises > flapping[0]:
                    self._execute("INSERT INTO alarm_status (alarm_id) VALUES (?) ON CONFLICT DO NOTHING", (alarm_id,))
                    self._execute("UPDATE alarm_status SET flapping = 1 WHERE alarm_id = ?", (alarm_id,))
                    self._history(alarm_id, t_ms, "system", "flapping",
                                  f"raised {raises} times in {flapping[1] / 60_000:g} min: held raised")
                    flapped = 1
            if flapped:
                self._execute("UPDATE alarm_status SET calm_since_ms = coalesce(calm_since_ms, ?) WHERE alarm_id = ?",
                              (t_ms, alarm_id))
                return False
            self._execute("UPDATE alarms SET state='cleared', cleared_ms=? WHERE id=?", (t_ms, alarm_id))
            self._history(alarm_id, t_ms, "system", "cleared", "")
            return True

    def _history(self, alarm_id: int, t_ms: int, actor: str, action: str, note: str, level: int = 0) -> None:
        """Append one row to an alarm's history (inside the caller's write transaction)."""
        self._execute("INSERT INTO alarm_history (alarm_id, t_ms, actor, action, note, level) VALUES (?,?,?,?,?,?)",
                      (alarm_id, t_ms, actor, action, note, level))

    # --- queries for the API, reports and the demo ---------------------------------------------
    def readings(self, station: str | None = None) -> list[Reading]:
        sql = "SELECT station, point, t_ms, value, unit, quality FROM readings"
        rows = self._rows(sql + (" WHERE station=?" if station else "") + " ORDER BY station, point, t_ms",
                          (station,) if station else ())
        return [to_reading(row) for row in rows]

    def latest(self) -> list[dict]:
        """The newest reading of every (station, point), by seeks on the readings' key, not a scan.

        A ``GROUP BY station, point`` reads every row: 1.9 s for a month of 200 stations, growing
        with the data (issue 9). The recursive query hops from one (station, point) to the next
        (the next point of this station, else the first of the next station: a key lookup each)
        and takes the newest row of each, so it costs per series, whatever the history kept."""
        rows = self._rows(LATEST)
        return [{"station": s, "point": p, "t_ms": t, "value": v, "unit": u, "quality": Quality(q).name}
                for s, p, t, v, u, q in rows]

    def arrival_marker(self) -> tuple[int | None, int]:
        """(newest arrival time, envelopes that arrived in that millisecond): two index lookups
        that change whenever an envelope is stored, so ``latest()`` is read again only then."""
        newest = self._rows("SELECT max(received_ms) FROM envelopes")[0][0]
        return newest, self._rows("SELECT count(*) FROM envelopes WHERE received_ms = ?", (newest,))[0][0]

    def alarms(self, open_only: bool = False) -> list[dict]:
        """Alarms newest first with their handling (cloud/store/handling.py); open: raised or acknowledged."""
        return self.alarm_rows(states=OPEN_STATES_LIST if open_only else None)

    def station_stats(self) -> list[dict]:
        rows = self._rows(
            "SELECT station, count(*), count(*) FILTER (WHERE quality != 0), min(t_ms), max(t_ms),"
            " (SELECT count(*) FROM alarms a WHERE a.station = r.station AND a.state IN ('raised','acknowledged'))"
            " FROM readings r GROUP BY station ORDER BY station")
        keys = ("station", "readings", "faulty", "first_ms", "last_ms", "open_alarms")
        return [dict(zip(keys, row)) for row in rows]

    def counts(self) -> dict:
        """Totals for the demo summary and the console header."""
        envelopes, stored = self._rows("SELECT count(*), coalesce(sum(n), 0) FROM envelopes")[0]
        readings = self._rows("SELECT count(*) FROM readings")[0][0]
        refused = dict(self._rows("SELECT reason, count(*) FROM quarantine GROUP BY reason"))
        alarms = dict(self._rows("SELECT type, count(*) FROM alarms GROUP BY type"))
        return {"envelopes": envelopes, "readings_in_envelopes": int(stored), "readings": readings,
                "refused": refused, "alarms": alarms}

    # --- data-quality rates (cloud/quality) -----------------------------------------------------
    def rate_rows(self, start_ms: int, end_ms: int, stations: list[str] | None = None,
                  batch: int = 50_000) -> Iterator[list[tuple[str, str, int, int, int]]]:
        """Batches of (station, point, t_ms, received_ms, quality) sampled in [start_ms, end_ms).

        Raw rows rather than SQL aggregates: the rates bucket them by each station's own
        interval and local day, which numpy does faster than a per-station SQL expression.
        A long station list is filtered by the caller instead (no statement with 10,000 params).
        """
        sql = "SELECT station, point, t_ms, received_ms, quality FROM readings WHERE t_ms >= ? AND t_ms < ?"
        params: tuple = (start_ms, end_ms)
        if stations is not None and len(stations) <= 500:
            sql += f" AND station IN ({','.join('?' * len(stations))})" if stations else " AND 1 = 0"
            params += tuple(stations)
        cur = self._execute(sql, params)
        while rows := cur.fetchmany(batch):
            yield rows

    def last_samples(self, before_ms: int) -> dict[str, int]:
        """Per station, the latest sample time before ``before_ms``: when it stopped reporting."""
        return dict(self._rows("SELECT station, max(t_ms) FROM readings WHERE t_ms < ? GROUP BY station", (before_ms,)))

    # --- withdrawal (cloud/quality/withdrawal.py) ------------------------------------------------
    def totaliser_rows(self, stations: list[str], points: list[str], start_ms: int,
                       end_ms: int) -> list[tuple[str, str, int, float, int]]:
        """(station, point, t_ms, value, quality) of these counter points sampled in [start_ms, end_ms),
        ordered by station, point and time (the readings' key, so an index range per point).

        Every listed point of every listed station: a caller wanting pairs filters the rest out.
        """
        out: list[tuple[str, str, int, float, int]] = []
        if not stations or not points:
            return out
        for i in range(0, len(stations), 500):
            chunk = stations[i:i + 500]
            out += self._rows(
                "SELECT station, point, t_ms, value, quality FROM readings WHERE station IN"
                f" ({','.join('?' * len(chunk))}) AND point IN ({','.join('?' * len(points))})"
                " AND t_ms >= ? AND t_ms < ? ORDER BY station, point, t_ms", (*chunk, *points, start_ms, end_ms))
        return out
