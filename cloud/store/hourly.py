"""The hour rollups' table (``point_hours``, schema version 6) and the raw reads that fill it.

What an hour row holds and how it is counted is cloud/quality/hourly.py; here are the SQL that
reads a station's raw values for it, the upsert (an hour with fewer raw rows than stored is left
alone: retention removed some) and the reads of the stored hours.
"""

from __future__ import annotations

from typing import NamedTuple

from watertel.cloud.store.database import Database
from watertel.readings import Quality


class PointHour(NamedTuple):
    """One ``point_hours`` row: a point's figures over the UTC hour starting at ``hour_ms``."""

    station: str
    point: str
    hour_ms: int
    expected: int
    received: int
    on_time: int
    abnormal: int
    readings: int
    value_count: int
    value_min: float | None
    value_max: float | None
    value_sum: float | None
    volume: float | None


class PointValue(NamedTuple):
    """One raw reading as the hour rollups count it."""

    point: str
    t_ms: int
    value: float | None
    received_ms: int
    quality: int


class CounterReading(NamedTuple):
    """A counter's reading as the withdrawal counts it (cloud/permits/withdrawal.py ``meter_volume``)."""

    t_ms: int
    value: float
    quality: int


COLUMNS = PointHour._fields
UPSERT = (f"INSERT INTO point_hours ({', '.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})"
          " ON CONFLICT (station, point, hour_ms) DO UPDATE SET "
          + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[3:])
          + " WHERE excluded.readings >= point_hours.readings")  # retention took raw rows: keep the hour
# A station's rows of every point, by a loose index scan (one probe per point), as rollups.STATION_ROWS.
STATION_VALUES = ("WITH RECURSIVE p(point) AS (SELECT min(point) FROM readings WHERE station = ?"
                  " UNION ALL SELECT (SELECT min(point) FROM readings WHERE station = ? AND point > p.point)"
                  " FROM p WHERE p.point IS NOT NULL)"
                  " SELECT r.point, r.t_ms, r.value, r.received_ms, r.quality FROM p JOIN readings r"
                  " ON r.station = ? AND r.point = p.point WHERE r.t_ms >= ? AND r.t_ms < ? ORDER BY r.point, r.t_ms")
POINT_VALUES = ("SELECT t_ms, value, received_ms, quality FROM readings WHERE station = ? AND point = ?"
                " AND t_ms >= ? AND t_ms < ? ORDER BY t_ms")
TRUSTED_CODES = tuple(int(q) for q in Quality if q.trusted_value)
LAST_TRUSTED = ("SELECT t_ms, value, quality FROM readings WHERE station = ? AND point = ? AND t_ms < ?"
                f" AND value IS NOT NULL AND quality IN ({','.join(map(str, TRUSTED_CODES))}) ORDER BY t_ms DESC LIMIT 1")
NEXT_AFTER = "SELECT min(t_ms) FROM readings WHERE station = ? AND point = ? AND t_ms >= ?"


class Hours(Database):
    # --- the raw readings an hour is counted from ------------------------------------------------
    def station_values(self, station: str, start_ms: int, end_ms: int) -> list[PointValue]:
        """Every point's readings sampled in [start_ms, end_ms), by point and time."""
        return [PointValue._make(row) for row in self._rows(STATION_VALUES, (station, station, station, start_ms, end_ms))]

    def point_values(self, station: str, point: str, start_ms: int, end_ms: int) -> list[PointValue]:
        """One point's readings sampled in [start_ms, end_ms), in time order."""
        return [PointValue(point, *row) for row in self._rows(POINT_VALUES, (station, point, start_ms, end_ms))]

    def last_trusted(self, station: str, point: str, before_ms: int) -> CounterReading | None:
        """The point's latest reading before ``before_ms`` with a trusted value (a counter step's start)."""
        rows = self._rows(LAST_TRUSTED, (station, point, before_ms))
        return CounterReading._make(rows[0]) if rows else None

    def next_sample_ms(self, station: str, point: str, from_ms: int) -> int | None:
        """When the point's first reading at or after ``from_ms`` was sampled (None: none yet)."""
        (after,) = self._rows(NEXT_AFTER, (station, point, from_ms))[0]
        return after

    def _put_hours(self, rows: list[PointHour]) -> None:
        """Upsert hour rows inside the caller's write transaction (an hour with fewer raw rows than
        stored is left alone: retention removed some)."""
        self._execute_many(UPSERT, sorted(rows))

    # --- reading them back -----------------------------------------------------------------------
    def point_hours(self, station: str, point: str, start_ms: int, end_ms: int) -> list[PointHour]:
        """The stored hours of one point starting in [start_ms, end_ms), in time order."""
        rows = self._rows(f"SELECT {', '.join(COLUMNS[2:])} FROM point_hours WHERE station = ? AND point = ?"
                          " AND hour_ms >= ? AND hour_ms < ? ORDER BY hour_ms", (station, point, start_ms, end_ms))
        return [PointHour(station, point, *row) for row in rows]

    def first_rolled_hour(self, station: str, point: str, start_ms: int, end_ms: int) -> int | None:
        """The first hour in [start_ms, end_ms) whose rollup counted raw readings (to tell aged-out raw data)."""
        (found,) = self._rows("SELECT min(hour_ms) FROM point_hours WHERE station = ? AND point = ? AND hour_ms >= ?"
                              " AND hour_ms < ? AND readings > 0", (station, point, start_ms, end_ms))[0]
        return found
