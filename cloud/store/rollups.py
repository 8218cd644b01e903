"""The day rollups' tables (``rollup_dirty``, ``rollup_claimed``, ``rate_days``: schema version 4)
and the raw reads a refresh counts from.

How marks become rows is cloud/quality/rollups.py. Ingest marks the 15-minute buckets of the
stations that got new readings (``MARK_DIRTY``, in the insert's own transaction); a refresh
claims a batch of marks (``claim_rollup_marks``), recomputes their days and writes them with
their hours, forgetting the marks, in one transaction (``finish_rollups``). One refresh at a time:
``rollup_lock``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from watertel.cloud.store.hourly import Hours, PointHour

# The next batch of marked stations: marks to take now, and marks a refresh that failed had taken.
MARKED = ("SELECT station, bucket FROM {table} WHERE station IN (SELECT station FROM (SELECT station FROM rollup_dirty"
          " WHERE station > ? AND bucket >= ? AND bucket < ? UNION SELECT station FROM rollup_claimed"
          " WHERE station > ? AND bucket >= ? AND bucket < ?) AS m ORDER BY station LIMIT ?)"
          " AND bucket >= ? AND bucket < ?")
UPSERT = ("INSERT INTO rate_days (day_ms, station, basis, received, on_time, future, flagged) VALUES (?,?,?,?,?,?,?)"
          " ON CONFLICT (day_ms, station) DO UPDATE SET basis = excluded.basis, received = excluded.received,"
          " on_time = excluded.on_time, future = excluded.future, flagged = excluded.flagged")
# The points of a station by a loose index scan (one probe per point), then an index range per point:
# SQLite would otherwise walk the station's whole history for a day's rows.
STATION_ROWS = ("WITH RECURSIVE p(point) AS (SELECT min(point) FROM readings WHERE station = ?"
                " UNION ALL SELECT (SELECT min(point) FROM readings WHERE station = ? AND point > p.point)"
                " FROM p WHERE p.point IS NOT NULL)"
                " SELECT r.point, r.t_ms, r.received_ms, r.quality FROM p JOIN readings r"
                " ON r.station = ? AND r.point = p.point WHERE r.t_ms >= ? AND r.t_ms < ?")
# A station's latest sample before a time: one index probe per point (the readings' key), where a
# GROUP BY over the readings would read every row kept.
LAST_SAMPLE = ("WITH RECURSIVE p(point) AS (SELECT min(point) FROM readings WHERE station = ?"
               " UNION ALL SELECT (SELECT min(point) FROM readings WHERE station = ? AND point > p.point)"
               " FROM p WHERE p.point IS NOT NULL)"
               " SELECT max(m) FROM (SELECT (SELECT max(t_ms) FROM readings WHERE station = ? AND point = p.point"
               " AND t_ms < ?) AS m FROM p WHERE p.point IS NOT NULL) AS x")


class Mark(NamedTuple):
    """A station's 15-minute bucket (``t_ms // DIRTY_BUCKET_MS``) that got new readings."""

    station: str
    bucket: int


class RateDay(NamedTuple):
    """One ``rate_days`` row: a station's counts for the local day starting at ``day_ms``, and the
    basis (hash of the registry entry and settings) they were counted with."""

    day_ms: int
    station: str
    basis: str
    received: int
    on_time: int
    future: int
    flagged: int


class Arrivals(NamedTuple):
    """Raw rows as columns (one tuple per column, row i across them): what the rates count."""

    point: tuple[str, ...]
    t_ms: tuple[int, ...]
    received_ms: tuple[int, ...]
    quality: tuple[int, ...]


class Rollups(Hours):
    # --- raw reads -------------------------------------------------------------------------------
    def arrivals(self, station: str, points: Sequence[str], start_ms: int, end_ms: int) -> Arrivals:
        """The station's rows sampled in [start_ms, end_ms) of ``points`` (none listed: every point)."""
        if points:
            marks = ",".join("?" * len(points))
            rows = self._rows("SELECT point, t_ms, received_ms, quality FROM readings WHERE station = ?"
                              f" AND point IN ({marks}) AND t_ms >= ? AND t_ms < ?", (station, *points, start_ms, end_ms))
        else:
            rows = self._rows(STATION_ROWS, (station, station, station, start_ms, end_ms))
        return Arrivals(*zip(*rows)) if rows else Arrivals((), (), (), ())

    def last_sample(self, station: str, before_ms: int) -> int | None:
        """The station's latest sample time before ``before_ms``, in time that does not grow with
        the readings kept (``last_samples`` reads every station's rows)."""
        (t,) = self._rows(LAST_SAMPLE, (station, station, station, before_ms))[0]
        return t

    # --- marks and rows --------------------------------------------------------------------------
    def claim_rollup_marks(self, after: str, window: tuple[int, int], batch: int) -> list[Mark]:
        """Move the marks of the next ``batch`` stations after ``after`` with a bucket in ``window``
        to ``rollup_claimed``; return them, with marks a failed refresh had claimed, sorted. By key:
        a mark made meanwhile stays where it is. Returns once every writer then in flight has ended."""
        params = (after, *window, after, *window, batch, *window)
        with self._write():
            taken = [tuple(m) for m in self._rows(MARKED.format(table="rollup_dirty"), params)]
            self._execute_many("INSERT INTO rollup_claimed (station, bucket) VALUES (?, ?) ON CONFLICT DO NOTHING", taken)
            self._execute_many("DELETE FROM rollup_dirty WHERE station = ? AND bucket = ?", taken)
            marks = [Mark._make(m) for m in self._rows(MARKED.format(table="rollup_claimed"), params)]
        self._settle()  # a writer that found a bucket already marked has committed its readings by now
        return sorted(marks)

    def finish_rollups(self, days: list[RateDay], marks: list[Mark], hours: Sequence[PointHour] = ()) -> None:
        """Store recomputed day rows and hour rows and forget the marks they answer, in one transaction."""
        with self._write():
            self._execute_many(UPSERT, sorted(days))
            self._put_hours(list(hours))
            self._execute_many("DELETE FROM rollup_claimed WHERE station = ? AND bucket = ?", marks)

    def put_rate_days(self, days: list[RateDay]) -> None:
        """Store day rows (replacing those of the same day and station) in one transaction."""
        with self._write():
            self._execute_many(UPSERT, sorted(days))

    def rate_days(self, start_ms: int, end_ms: int, stations: Sequence[str]) -> list[RateDay]:
        """The rows of days starting in [start_ms, end_ms); of ``stations`` when they are 500 or
        fewer (a county or a city: not the whole province's rows), else of every station."""
        if not stations:
            return []
        sql, params = (f"SELECT {', '.join(RateDay._fields)} FROM rate_days WHERE day_ms >= ? AND day_ms < ?",
                       (start_ms, end_ms))
        if len(stations) <= 500:
            sql, params = sql + f" AND station IN ({','.join('?' * len(stations))})", (*params, *stations)
        return [RateDay._make(row) for row in self._rows(sql, params)]
