"""PostgreSQL store (psycopg 3), for more stations or several ingest workers.

Readings live in a table partitioned by month of sample time (UTC), created on demand, so old
months can be detached or dropped whole. Writers of the same gateway's chain are serialised by
a transaction-scoped advisory lock; an envelope costs two round trips: its stored neighbours, then
its row and readings in one statement (INSERT … SELECT FROM unnest(…)), which also returns which
readings were new. Sequence numbers are NUMERIC(20): the
envelope allows the whole unsigned 64-bit range.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors

from watertel.cloud.store.changes import CHANNEL, KINDS
from watertel.cloud.store.envelopes import Accepted
from watertel.cloud.store.schema import (ALARM_MESSAGE_COLUMNS, AUDIT_TABLE, DIRTY_BUCKET_MS, FIELD_WORK_TABLES,
                                         HOURLY_TABLES, LIFECYCLE_TABLES, QUARANTINE_COLUMNS, ROLLUP_TABLES,
                                         SCHEMA_VERSION, StoreError, pending_migrations)
from watertel.cloud.store.sql import SqlStore
from watertel.envelope import Envelope
from watertel.readings import Reading

SERIAL = "BIGSERIAL PRIMARY KEY"  # an auto-numbered key (alarm history, work orders, outbox)
SCHEMA = """
CREATE TABLE IF NOT EXISTS envelopes (
    gateway_id TEXT NOT NULL, seq NUMERIC(20) NOT NULL, hash BYTEA NOT NULL, prev_hash BYTEA NOT NULL,
    key_id TEXT NOT NULL, created_ms BIGINT NOT NULL, received_ms BIGINT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, seq));
CREATE TABLE IF NOT EXISTS readings (
    station TEXT NOT NULL, point TEXT NOT NULL, t_ms BIGINT NOT NULL, value DOUBLE PRECISION, unit TEXT NOT NULL,
    quality SMALLINT NOT NULL, gateway_id TEXT NOT NULL, seq NUMERIC(20) NOT NULL, received_ms BIGINT NOT NULL,
    PRIMARY KEY (station, point, t_ms)) PARTITION BY RANGE (t_ms);
CREATE TABLE IF NOT EXISTS quarantine (
    id BIGSERIAL PRIMARY KEY, received_ms BIGINT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL, payload BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id BIGSERIAL PRIMARY KEY, station TEXT NOT NULL, point TEXT NOT NULL, type TEXT NOT NULL,
    severity TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL,
    raised_ms BIGINT NOT NULL, cleared_ms BIGINT);
CREATE INDEX IF NOT EXISTS envelopes_received ON envelopes(received_ms);
""" + ";".join([AUDIT_TABLE, *ROLLUP_TABLES, *(q.replace("{serial}", SERIAL) for q in [*LIFECYCLE_TABLES, *FIELD_WORK_TABLES]),
                *HOURLY_TABLES, *ALARM_MESSAGE_COLUMNS, *QUARANTINE_COLUMNS])

# The new readings also mark their rollup buckets (schema.py, MARK_DIRTY), in the same statement.
INSERT = """
WITH envelope AS (INSERT INTO envelopes VALUES (%s, %s, %s, %s, %s, %s, %s, %s)),
new AS (INSERT INTO readings (station, point, t_ms, value, unit, quality, gateway_id, seq, received_ms)
SELECT s, p, t, v, u, q, %s, %s, %s
FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::float8[], %s::text[], %s::smallint[]) AS x(s, p, t, v, u, q)
ON CONFLICT DO NOTHING RETURNING station, point, t_ms),
dirty AS (INSERT INTO rollup_dirty (station, bucket)
SELECT DISTINCT station, (t_ms - ((t_ms %% {bucket}) + {bucket}) %% {bucket}) / {bucket} FROM new
ON CONFLICT DO NOTHING)
SELECT station, point, t_ms FROM new
""".replace("{bucket}", str(DIRTY_BUCKET_MS))

log = logging.getLogger("watertel.cloud.store.postgres")
ROLLUP_LOCK = 0x726F6C6C  # the session advisory lock a rollup refresh holds ("roll")


def month_of(t_ms: int) -> tuple[str, int, int]:
    """Partition name and [start, end) in Unix ms of the UTC month holding ``t_ms``."""
    day = dt.datetime.fromtimestamp(t_ms / 1000, dt.timezone.utc)
    start = dt.datetime(day.year, day.month, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return f"readings_p{day.year:04d}{day.month:02d}", int(start.timestamp() * 1000), int(end.timestamp() * 1000)


class PostgresStore(SqlStore):
    def __init__(self, dsn: str, migrate: bool = False) -> None:
        self.dsn = dsn
        self.conn = psycopg.connect(dsn, autocommit=True)
        info = self.conn.info
        self.identity = f"postgresql:{info.host}:{info.port}/{info.dbname}"
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(0)")  # two workers starting at once
            self.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            for sql in ([SCHEMA] if not version else []) + \
                    pending_migrations(version, "the PostgreSQL database", migrate, SERIAL):
                self.conn.execute(sql)
            self.conn.execute("DELETE FROM schema_version")
            self.conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))
        self._partitions: set[str] = set()

    def close(self) -> None:
        self.conn.close()

    def _execute(self, sql: str, params: tuple = ()) -> psycopg.Cursor:
        return self.conn.execute(sql.replace("?", "%s"), params)

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A transaction; its changes are announced to other processes (NOTIFY, delivered at
        commit) and to this one's listeners after it (changes.py)."""
        with self._collecting() as kinds, self.conn.transaction():
            yield
            for kind in sorted(kinds):
                self.conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, kind))

    async def watch_others(self, hear: Callable[[frozenset[str]], None], poll_s: float) -> None:
        """Other processes' commits: LISTEN on a connection of its own. After a lost connection
        (said once, then at debug) it connects again and reports every kind (it may have missed some)."""
        failing = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if failing:
                        log.info("change notifications: listening again")
                        hear(KINDS)
                    failing = False
                    async for note in conn.notifies():
                        hear(frozenset({note.payload}) & KINDS or KINDS)
            except (psycopg.Error, OSError) as err:
                (log.debug if failing else log.warning)("change notifications: %s (trying again)", err)
                failing = True
                await asyncio.sleep(max(poll_s, 1.0))

    def _lock_chain(self, gateway_id: str) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (gateway_id,))

    def _settle(self, timeout_s: float = 60.0) -> None:
        edge = self.conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()[0]
        deadline = time.monotonic() + timeout_s
        done = "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= %s::xid8"
        while not self.conn.execute(done, (edge,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise StoreError(f"a write transaction has been open for over {timeout_s:g} s: rollups wait for it"
                                 " (see pg_stat_activity)")
            time.sleep(0.005)

    @contextmanager
    def rollup_lock(self) -> Iterator[None]:
        self.conn.execute("SELECT pg_advisory_lock(%s)", (ROLLUP_LOCK,))
        try:
            yield
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (ROLLUP_LOCK,))

    def accept_many(self, envs: list[Envelope], received_ms: int | None = None) -> list[Accepted]:
        times = [r.t_ms for env in envs for r in env.readings]
        if times:
            t, last = min(times), max(times)
            while t <= last:  # every month from the oldest sample to the newest
                t = self._ensure_partition(t)
        return super().accept_many(envs, received_ms)

    def delete_readings_before(self, t_ms: int, limit: int = 5000, point: str | None = None,
                               except_points: tuple[str, ...] = ()) -> int:
        """Whole months before ``t_ms`` go as partitions (no row-by-row delete); then the rest.

        A month still holding readings of ``except_points`` (kept longer) is not dropped, and
        nothing is dropped for one ``point``: its rows go one batch at a time.
        """
        dropped = 0
        for name, end in [] if point is not None else self._rows(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
                " WHERE p.relname = 'readings'"):
            upper = int(re.findall(r"\d+", end)[-1])  # FOR VALUES FROM ('a') TO ('b')
            if upper <= t_ms:
                with self._write():
                    if except_points and self._rows(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE point = ANY(?))",
                                                    (list(except_points),))[0][0]:
                        continue
                    dropped += self._rows(f"SELECT count(*) FROM {name}")[0][0]
                    self._execute(f"DROP TABLE {name}")
                self._partitions.discard(name)
        return dropped + super().delete_readings_before(t_ms, limit, point, except_points)

    def _ensure_partition(self, t_ms: int) -> int:
        """Make sure the month of ``t_ms`` has its partition; return the start of the next month."""
        name, start, end = month_of(t_ms)
        if name not in self._partitions:
            try:
                self.conn.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings FOR VALUES FROM ({start}) TO ({end})")
            except (errors.DuplicateTable, errors.UniqueViolation):
                pass  # another worker made it a moment ago
            self._partitions.add(name)
        return end

    def _insert(self, env: Envelope, received_ms: int) -> list[Reading]:
        """The envelope row and its readings in one statement (one round trip)."""
        rs = env.readings
        rows = self.conn.execute(INSERT, (
            *self._envelope_row(env, received_ms), env.gateway_id, env.seq, received_ms, [r.station for r in rs], [r.point for r in rs], [r.t_ms for r in rs],
            [None if math.isnan(r.value) else r.value for r in rs], [r.unit for r in rs], [int(r.quality) for r in rs],
        )).fetchall()
        new_keys, new = set(rows), []
        for r in rs:
            if (r.station, r.point, r.t_ms) in new_keys:
                new_keys.discard((r.station, r.point, r.t_ms))
                new.append(r)
        return new
