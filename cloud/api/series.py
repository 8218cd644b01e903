"""The time series of one point (``GET /api/series``), and the two things the station list and the
live events share: a station's status (``status_rule``) and the latest values (``LatestCache``).

A station is online while its last sample is at most ``intervals`` of its reporting interval old
(the registry's ``interval_minutes``/``interval_seconds``); without a registry entry, at most
``OFFLINE_AFTER_MS``. A series is the raw readings of one point in ``[from, to)`` while they are at
most ``max_points`` (default 2,000); past that, the range is cut into at most ``max_points`` equal
buckets, each with its count, min, max and mean, computed by the database::

    from                                                               to
    |-- bucket 0 --|-- bucket 1 --|-- … --|-- bucket k (k < max_points) --|
       width = ceil((to - from) / max_points) ms; empty buckets are left out

``step=hour`` or ``step=day`` serves the hour rollups instead (``point_hours``,
cloud/quality/hourly.py; the range rounded out to whole hours, or to local days in ``tz``): per
hour or day the slots expected, received, on time and abnormal, n/min/max/mean of the trusted
values and, for ``total``, the volume. Without ``step`` they are used too when the raw readings of
part of the range have aged out (retention.raw_days): a rolled-up hour with readings lies before
the first raw reading left; then hours if at most ``max_points`` of them, else days.

The series answers within the user's regions, like /api/alarms; the station list is
cloud/api/stations.py.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import TypeAdapter

from watertel.cloud.api.deps import AncestryDep, RatesDep, Reader, StoreDep
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.stations import SeriesPublic
from watertel.cloud.quality.hourly import HOUR, day_rollups, hour_floor, hour_rollups
from watertel.cloud.registry import Registry
from watertel.cloud.store import SqlStore
from watertel.readings import Quality

OFFLINE_AFTER_MS = 15 * 60_000  # stations the registry does not know
MAX_POINTS = 2000
DAY_MS = 86_400_000
MAX_MS = 10**14  # year 5138: far enough, and well inside a 64-bit integer

StationStatus = Callable[[str, "int | None", int], str]  # (station, last sample ms, now ms) -> status
SERIES: TypeAdapter[SeriesPublic] = TypeAdapter(SeriesPublic)


def status_rule(registry: Registry | None, intervals: int = 3, fixed_ms: int = OFFLINE_AFTER_MS) -> StationStatus:
    """``status(station, last_ms, now_ms)``: "online", "offline", or "never" (no sample yet)."""
    limits = {s.id: intervals * s.interval_ms for s in registry.stations} if registry else {}

    def status(station: str, last_ms: int | None, now_ms: int) -> str:
        if last_ms is None:
            return "never"
        return "online" if now_ms - last_ms <= limits.get(station, fixed_ms) else "offline"

    return status


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


class LatestCache:
    """``store.latest()``, read again only after an envelope arrived (the store's arrival marker
    changed) or ``ttl_s`` passed (readings that came without an envelope, retention): 4,000
    stations' latest values take ~150 ms to read, the marker two index lookups. One per API
    process, shared by ``/api/latest``, the station list and the live events."""

    def __init__(self, store: SqlStore, ttl_s: float = 30.0) -> None:
        self.store, self.ttl_s = store, ttl_s
        self._lock = threading.Lock()
        self._marker: object = None
        self._at = -math.inf
        self._rows: tuple[dict, ...] = ()
        self._grouped: tuple[tuple[dict, ...], dict[str, tuple[dict, ...]]] = ((), {})

    def rows(self) -> tuple[dict, ...]:
        """The latest row of every station and point (NaN values as None); the same tuple object
        until the store has something new."""
        with self._lock:
            marker = self.store.arrival_marker()
            if marker != self._marker or time.monotonic() - self._at > self.ttl_s:
                self._rows = tuple({**row, "value": _clean(row["value"])} for row in self.store.latest())
                self._marker, self._at = marker, time.monotonic()
            return self._rows

    def by_station(self) -> dict[str, tuple[dict, ...]]:
        """The rows grouped by station, each as point, value, unit, quality and time."""
        rows = self.rows()
        with self._lock:
            if self._grouped[0] is not rows:
                grouped: dict[str, list[dict]] = {}
                for row in rows:
                    grouped.setdefault(row["station"], []).append({k: row[k] for k in POINT_FIELDS})
                self._grouped = (rows, {station: tuple(points) for station, points in grouped.items()})
            return self._grouped[1]


POINT_FIELDS = ("point", "value", "unit", "quality", "t_ms")


router = APIRouter(prefix="/api", tags=["stations"], responses=refusals(401))


@router.get("/series", responses=refusals(403, 422))
def series(station: str, point: str, who: Reader, store: StoreDep, ancestry: AncestryDep, rates: RatesDep,
           start: Annotated[int | None, Query(alias="from", ge=0, le=MAX_MS, description="Unix ms, inclusive (default: to - 24 h)")] = None,
           end: Annotated[int | None, Query(alias="to", ge=0, le=MAX_MS, description="Unix ms, exclusive (default: now)")] = None,
           max_points: Annotated[int, Query(ge=10, le=10_000)] = MAX_POINTS,
           step: Annotated[Literal["hour", "day"] | None, Query(description="serve the hour or day rollups")] = None,
           ) -> SeriesPublic:
    """One point of one station in [from, to): raw readings, min/max/mean buckets past ``max_points``,
    or the hour/day rollups (``step``, or when the range's raw readings have aged out)."""
    if not who.sees(ancestry.get(station)):
        raise Problem(403, "station.outside", f"station {station!r} is outside your regions", station=station)
    end = int(time.time() * 1000) if end is None else end
    start = end - DAY_MS if start is None else start
    if start >= end:
        raise Problem(422, "range.order", f"from must be before to (got from {start}, to {end})", from_ms=start, to_ms=end)
    count = store.series_count(station, point, start, end)
    answer = {"station": station, "point": point, "unit": store.series_unit(station, point, start, end),
              "from": start, "to": end, "count": count}
    step = step or aged_out(store, station, point, start, end, max_points)
    if step:
        return SERIES.validate_python({**answer, **rolled_up(store, station, point, start, end, step, max_points, rates.tz)})
    if count <= max_points:
        return SERIES.validate_python({**answer, "mode": "raw", "bucket_ms": None, "points": [
            {"t_ms": t, "value": _clean(v), "quality": Quality(q).name}
            for t, v, q in store.series_raw(station, point, start, end)]})
    width = -(-(end - start) // max_points)
    buckets = store.series_buckets(station, point, start, end, width)
    return SERIES.validate_python({**answer, "mode": "buckets", "bucket_ms": width, "points": [
        {"t_ms": start + int(b) * width, "n": n, "min": _clean(lo), "max": _clean(hi), "mean": _clean(mean)}
        for b, n, lo, hi, mean in buckets]})


def aged_out(store: SqlStore, station: str, point: str, start: int, end: int, max_points: int) -> str | None:
    """"hour" or "day" when a rolled-up hour with readings lies before the range's first raw reading."""
    first = store.first_rolled_hour(station, point, hour_floor(start), end)
    if first is None:
        return None
    raw = store.first_sample_ms(station, point, start, end)
    if raw is not None and first >= hour_floor(raw):
        return None
    return "hour" if -(-(end - hour_floor(start)) // HOUR) <= max_points else "day"


def rolled_up(store: SqlStore, station: str, point: str, start: int, end: int, step: str, max_points: int,
              tz: ZoneInfo) -> dict:
    if step == "hour":
        lo, n = hour_floor(start), -(-(end - hour_floor(start)) // HOUR)
        if n > max_points:
            raise Problem(422, "range.too_long", f"{n} hours in the range, more than max_points ({max_points}):"
                                                 " use step=day, a shorter range or a larger max_points",
                          n=n, max=max_points)
        return {"mode": "hour", "bucket_ms": HOUR,
                "points": [h.as_dict() for h in hour_rollups(store, station, point, lo, end)]}
    first, last = (dt.datetime.fromtimestamp(t / 1000, tz).date() for t in (start, end - 1))
    if (last - first).days + 1 > max_points:
        raise Problem(422, "range.too_long", f"{(last - first).days + 1} days in the range, more than max_points"
                                             f" ({max_points}): use a shorter range or a larger max_points",
                      n=(last - first).days + 1, max=max_points)
    return {"mode": "day", "bucket_ms": None, "tz": tz.key,
            "points": [d.as_dict() for d in day_rollups(store, station, point, first, last, tz)]}
