"""One point of one station over a time range, as the console's charts read it (``GET
/api/series``, cloud/api/series.py): its count, unit, raw readings or min/max/mean buckets."""

from __future__ import annotations

from typing import NamedTuple

from watertel.cloud.store.database import Database

_WHERE = " FROM readings WHERE station = ? AND point = ? AND t_ms >= ? AND t_ms < ?"


class RawPoint(NamedTuple):
    t_ms: int
    value: float | None
    quality: int


class Bucket(NamedTuple):
    """Readings in bucket ``index`` (``(t_ms - start) // width``): how many, min, max, mean."""

    index: int
    n: int
    min: float | None
    max: float | None
    mean: float | None


class Series(Database):
    def series_count(self, station: str, point: str, start_ms: int, end_ms: int) -> int:
        """Readings of the point sampled in [start_ms, end_ms)."""
        (count,) = self._rows("SELECT count(*)" + _WHERE, (station, point, start_ms, end_ms))[0]
        return count

    def series_unit(self, station: str, point: str, start_ms: int, end_ms: int) -> str:
        """The unit of the point's newest reading in [start_ms, end_ms), else of its newest at all ("": none)."""
        unit = self._rows("SELECT unit" + _WHERE + " ORDER BY t_ms DESC LIMIT 1", (station, point, start_ms, end_ms))
        unit = unit or self._rows("SELECT unit FROM readings WHERE station = ? AND point = ? ORDER BY t_ms DESC LIMIT 1",
                                  (station, point))
        return unit[0][0] if unit else ""

    def series_raw(self, station: str, point: str, start_ms: int, end_ms: int) -> list[RawPoint]:
        """The readings in [start_ms, end_ms), in time order."""
        return [RawPoint._make(row) for row in self._rows("SELECT t_ms, value, quality" + _WHERE + " ORDER BY t_ms",
                                                          (station, point, start_ms, end_ms))]

    def series_buckets(self, station: str, point: str, start_ms: int, end_ms: int, width_ms: int) -> list[Bucket]:
        """The readings in [start_ms, end_ms) in buckets ``width_ms`` wide from ``start_ms``
        (buckets without a reading left out), in time order."""
        rows = self._rows("SELECT (t_ms - ?) / ? AS b, count(*), min(value), max(value), avg(value)" + _WHERE
                          + " GROUP BY b ORDER BY b", (start_ms, width_ms, station, point, start_ms, end_ms))
        return [Bucket._make(row) for row in rows]

    def first_sample_ms(self, station: str, point: str, start_ms: int, end_ms: int) -> int | None:
        """When the point's first reading in [start_ms, end_ms) was sampled (None: none there)."""
        (first,) = self._rows("SELECT min(t_ms)" + _WHERE, (station, point, start_ms, end_ms))[0]
        return first
