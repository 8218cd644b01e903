"""Hour rollups of each station point (``point_hours``, schema 6), and day figures from them.

An hour row holds, for one point of one station and the UTC hour starting at ``hour_ms``:

* ``expected``, ``received``, ``on_time``, ``abnormal``: interval slots starting in the hour, as
  the rates count them (rates.day_counts with hour edges: a slot once however many readings,
  on time within ``on_time_minutes``, abnormal = flagged: no reading trusted and in the past).
  A point is expected in every slot when the station lists it; a station that lists no points
  expects every point it reports; an unlisted point of a station that lists others, none.
* ``readings``: raw rows of any quality sampled in the hour;
* ``value_count``, ``value_min``, ``value_max``, ``value_sum``: the trusted, finite values
  (mean = value_sum / value_count);
* ``volume`` (``total`` points only, else NULL): the totaliser's steps whose later reading lies in
  the hour, by withdrawal.meter_volume (rollover with ``wraps_at`` from a permit's meter, reset
  or meter replacement counts nothing, untrusted readings skipped).

**Kept as data arrives** by the rate rollups' own marks (cloud/quality/rollups.py): ingest marks
the 15-minute buckets of a station in the insert transaction; the background refresh recomputes
the local days of those buckets (every hour of them: an hour without data gets its zero row)
and writes them with the day rows in one transaction. Late data marks its own bucket, so its
hours are redone; for a ``total`` point, also the hour of its next reading after those days (a
late reading changes the step after it, which may lie on a later day).

**Never lowered by retention**: a recomputed hour replaces the stored one only when it has at
least as many raw rows (``readings``), and raw readings only ever go by retention, whose cutoffs
lie on whole hours (cloud/service.py). So the rollups of hours whose raw data is gone stay as
they were when a later refresh touches their day.

**Days** (``day_rollups``): a local day's figures are the sums (min, max) of its hours, for zones
whose offset is whole hours (Asia/Shanghai; also across daylight saving). Hour rows are kept
``retention.hourly_days`` (default 3650), raw readings ``retention.raw_days``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from watertel.cloud.permits.model import Meter
from watertel.cloud.permits.withdrawal import TRUSTED, meter_volume
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import Period
from watertel.cloud.quality.rates import Rows, day_counts, grid_anchor, grid_ceil, service_intervals, trusted
from watertel.cloud.registry import Station
from watertel.cloud.store import SqlStore
from watertel.cloud.store.hourly import PointHour

HOUR = 3_600_000
TOTAL = "total"  # the totaliser point (firmware profiles): its hours carry a volume
TRUSTED_CODES = tuple(int(q) for q in TRUSTED)


def hour_floor(t_ms: int) -> int:
    return t_ms - t_ms % HOUR


def count_hours(store: SqlStore, st: Station, first: dt.date, last: dt.date, cfg: RatesConfig,
                meters: Mapping[tuple[str, str], Meter] | None = None) -> list[PointHour]:
    """``point_hours`` rows of every hour of local days ``first`` … ``last`` that
    has a reading or an expected slot, from the station's raw readings; and the hour of the next
    ``total`` reading after them (a late reading changes the step after it).

    ``meters``: permit meters by (station, point), for a totaliser's ``wraps_at``.
    """
    run = Period("", first, last, cfg.tz)
    h0, h1 = hour_floor(run.start_ms), -(-run.end_ms // HOUR) * HOUR
    out = _hours(store, st, None, h0, h1, cfg, meters or {})
    if TOTAL in st.points or not st.points:
        after = store.next_sample_ms(st.id, TOTAL, h1)
        if after is not None:
            out += _hours(store, st, TOTAL, hour_floor(after), hour_floor(after) + HOUR, cfg, meters or {})
    return out


def _hours(store: SqlStore, st: Station, only: str | None, h0: int, h1: int, cfg: RatesConfig,
           meters: Mapping[tuple[str, str], Meter]) -> list[PointHour]:
    """Rows of the hours in [h0, h1) of every point (or ``only`` that one)."""
    anchor = grid_anchor(cfg.tz)
    upto = grid_ceil(h1, anchor, st.interval_ms)  # readings of slots starting before h1
    rows = store.station_values(st.id, h0, upto) if only is None else store.point_values(st.id, only, h0, upto)
    by_point: dict[str, list[tuple]] = {p: [] for p in (st.points if only is None else [only])}
    for point, *rest in rows:
        by_point.setdefault(point, []).append(tuple(rest))
    bounds = np.arange(h0, h1 + HOUR, HOUR, dtype=np.int64)
    days = [dt.datetime.fromtimestamp(t / 1000, cfg.tz).date() for t in (h0, h1 - 1)]
    spans = service_intervals(st, Period("", *days, cfg.tz))
    out = []
    for point, found in sorted(by_point.items()):
        one = st.model_copy(update={"points": [point]})
        cols = list(zip(*found)) if found else [[], [], [], []]
        t_ms, values, received_ms, quality = (np.array(c, dtype=d) for c, d in
                                              zip(cols, (np.int64, object, np.int64, np.int64)))
        counts = day_counts(one, Rows(np.full(len(found), point), t_ms, received_ms, quality), bounds, spans, cfg, anchor)
        listed = point in st.points if st.points else True
        inside = (t_ms >= h0) & (t_ms < h1)
        figures = _values(t_ms[inside], values[inside], quality[inside], h0, len(bounds) - 1)
        volume = _volumes(store, st, point, [f for f, ok in zip(found, inside) if ok], h0, len(bounds) - 1,
                          meters.get((st.id, point)), cfg.tz) if point == TOTAL else None
        for i in range(len(bounds) - 1):
            expected = int(counts.expected[i]) if listed else 0
            if expected or figures[0][i]:
                out.append(PointHour(st.id, point, int(bounds[i]), expected, int(counts.received[i]),
                                     int(counts.on_time[i]), int(counts.flagged[i]), *(f[i] for f in figures),
                                     None if volume is None else volume[i]))
    return out


def _values(t_ms: np.ndarray, values: np.ndarray, quality: np.ndarray, h0: int, n: int) -> tuple[list, ...]:
    """Per hour: raw rows, then count, min, max and sum of the trusted finite values."""
    hour = (t_ms - h0) // HOUR
    v = np.array(values.tolist(), dtype=float)  # None (no value) becomes NaN
    ok = np.isfinite(v) & trusted(quality)
    h, v = hour[ok], v[ok]
    count = np.bincount(h, minlength=n)
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(lo, h, v)
    np.maximum.at(hi, h, v)
    total = np.bincount(h, weights=v, minlength=n)

    def some(a: np.ndarray) -> list:
        return [float(x) if c else None for x, c in zip(a.tolist(), count.tolist())]

    return np.bincount(hour, minlength=n).tolist(), count.tolist(), some(lo), some(hi), some(total)


def _volumes(store: SqlStore, st: Station, point: str, rows: list[tuple], h0: int, n: int, meter: Meter | None,
             tz: ZoneInfo) -> list[float]:
    """Per hour, the counter's volume: withdrawal.meter_volume of the hour's rows after the last
    trusted reading before it (the step's start), so rollover and reset count as they do there."""
    meter = Meter(station=st.id, point=point, wraps_at=meter.wraps_at if meter else None)
    before = store.last_trusted(st.id, point, h0)
    prev = [before] if before is not None else []
    out, i = [0.0] * n, 0
    for h in range(n):
        end, j = h0 + (h + 1) * HOUR, i
        while j < len(rows) and rows[j][0] < end:
            j += 1
        if j > i:
            mine = [(t, v, q) for t, v, _, q in rows[i:j]]
            out[h] = meter_volume(prev + mine, meter, h0 + h * HOUR, tz).volume
            good = [r for r in mine if r[1] is not None and r[2] in TRUSTED_CODES and math.isfinite(r[1])]
            prev = good[-1:] or prev
        i = j
    return out


# --- reading them back -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rollup:
    """Figures of one point over one hour or one day (starting at ``t_ms``)."""

    t_ms: int
    expected: int
    received: int
    on_time: int
    abnormal: int
    readings: int
    count: int
    min: float | None
    max: float | None
    sum: float | None
    volume: float | None

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count and self.sum is not None else None

    def as_dict(self) -> dict:
        return {"t_ms": self.t_ms, "expected": self.expected, "received": self.received, "on_time": self.on_time,
                "abnormal": self.abnormal, "n": self.count, "min": self.min, "max": self.max, "mean": self.mean,
                "volume": self.volume}


def hour_rollups(store: SqlStore, station: str, point: str, start_ms: int, end_ms: int) -> list[Rollup]:
    """The stored hours of one point starting in [start_ms, end_ms), in time order."""
    return [Rollup(*row[2:]) for row in store.point_hours(station, point, start_ms, end_ms)]


def day_rollups(store: SqlStore, station: str, point: str, first: dt.date, last: dt.date,
                tz: ZoneInfo) -> list[Rollup]:
    """Local days ``first`` … ``last`` of one point from its hours (days without any hour row left out)."""
    bounds = Period("", first, last, tz).day_bounds_ms()
    return sum_days(hour_rollups(store, station, point, bounds[0], bounds[-1]), bounds)


def sum_days(hours: list[Rollup], bounds: list[int]) -> list[Rollup]:
    """Hours (time order) added up per day between ``bounds`` (local midnights)."""
    edges = np.array(bounds, dtype=np.int64)
    day = (np.searchsorted(edges, [h.t_ms for h in hours], side="right") - 1).tolist()
    out: list[Rollup] = []
    for d, group in itertools.groupby(zip(day, hours), key=lambda x: x[0]):
        part = [h for _, h in group]
        lows, highs = [h.min for h in part if h.min is not None], [h.max for h in part if h.max is not None]
        sums, volumes = [h.sum for h in part if h.sum is not None], [h.volume for h in part if h.volume is not None]
        out.append(Rollup(bounds[d], *(sum(getattr(h, k) for h in part) for k in
                                       ("expected", "received", "on_time", "abnormal", "readings", "count")),
                          min(lows, default=None), max(highs, default=None), sum(sums) if sums else None,
                          sum(volumes) if volumes else None))
    return out
