"""Which reports of one station are missing or late in a period: the drill-down behind its rates.

A station's upload rate and timeliness (rates.py) count *reports*: one point in one interval slot
of the grid (``grid_anchor`` + k × interval) whose start lies in its service time. This module
lists them instead of counting them, with the same rules, so the lists always add up to the
report's figures while the raw readings are kept:

* **missing**: an expected report with no reading, as runs of consecutive slots per point
  (``gaps``: a station that was down for two days is one line, not 576);
* **late**: a received report none of whose readings arrived within ``on_time_minutes`` of its
  sample time, and not *future* (every reading sampled after it arrived: the clock runs ahead);
  each with the delay of its first arrival.

Days whose raw readings have gone (retention) while their day rollup says data came are left out
of both lists and named in ``raw_gone_days``: their reports cannot be listed any more, and
calling them missing would be wrong.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import Period
from watertel.cloud.quality.rates import grid_anchor, read_end, service_intervals
from watertel.cloud.quality.rollups import station_rows
from watertel.cloud.registry import Station
from watertel.cloud.store import SqlStore

LISTED = 500  # gaps and late reports listed at most (the totals count all)
MAX_DAYS = 366


@dataclass
class Gap:
    """Consecutive expected slots of one point without a report: [start_ms, end_ms)."""

    point: str  # "" for a station that lists no points (a report from any point fills a slot)
    start_ms: int
    end_ms: int
    slots: int


@dataclass
class Late:
    point: str
    slot_ms: int
    sample_ms: int
    received_ms: int

    @property
    def delay_s(self) -> float:
        return (self.received_ms - self.sample_ms) / 1000


@dataclass
class StationSlots:
    station: Station
    period: Period
    expected: int = 0
    received: int = 0
    on_time: int = 0
    future: int = 0
    gaps: list[Gap] = field(default_factory=list)
    late: list[Late] = field(default_factory=list)
    raw_gone_days: list[dt.date] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(g.slots for g in self.gaps)

    @property
    def late_count(self) -> int:
        return len(self.late)


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def station_slots(store: SqlStore, st: Station, period: Period, cfg: RatesConfig) -> StationSlots:
    """The station's expected, received, missing and late reports in ``period`` (see the module doc)."""
    if len(period.days) > MAX_DAYS:
        raise ValueError(f"period {period.label}: {len(period.days)} days, more than {MAX_DAYS} (choose a shorter one)")
    anchor, step = grid_anchor(period.tz), st.interval_ms
    points = sorted(st.points) or [""]
    bounds = np.array(period.day_bounds_ms(), dtype=np.int64)
    rows = station_rows(store, st, period.start_ms, read_end([st], period))
    gone = _raw_gone_days(store, st, period, bounds, rows.t_ms)
    spans = [(a, b) for a, b in service_intervals(st, period)]
    expected = np.concatenate([np.arange(_ceil_div(a - anchor, step), _ceil_div(b - anchor, step), dtype=np.int64)
                               for a, b in spans] or [np.array([], dtype=np.int64)])
    expected = expected[~np.isin(np.searchsorted(bounds, anchor + expected * step, side="right") - 1, gone)]
    out = StationSlots(st, period, raw_gone_days=[period.days[i] for i in gone])
    out.expected = len(expected) * len(points)

    slot = (rows.t_ms - anchor) // step
    point = np.searchsorted(points, rows.point) if st.points else np.zeros(len(slot), dtype=np.int64)
    keep = np.isin(slot, expected) & (np.isin(rows.point, points) if st.points else True)
    slot, point, t_ms, received_ms = slot[keep], point[keep], rows.t_ms[keep], rows.received_ms[keep]
    delay = received_ms - t_ms
    future = delay < -cfg.future_tolerance_s * 1000
    on_time = ~future & (delay <= cfg.on_time_minutes * 60_000)
    unit = slot * len(points) + point
    units, inverse = np.unique(unit, return_inverse=True)
    out.received = len(units)
    any_on_time = np.bincount(inverse, weights=on_time, minlength=len(units)) > 0
    all_future = np.bincount(inverse, weights=~future, minlength=len(units)) == 0
    out.on_time, out.future = int(any_on_time.sum()), int(all_future.sum())

    late_units = np.flatnonzero(~any_on_time & ~all_future)
    if len(late_units):
        order = np.lexsort((received_ms, future, inverse))  # per unit: a reading not from the future, first arrived
        first = order[np.unique(inverse[order], return_index=True)[1]]
        for u in late_units:
            i = first[u]
            out.late.append(Late(points[int(point[i])], int(anchor + slot[i] * step), int(t_ms[i]), int(received_ms[i])))
    wanted = (expected[:, None] * len(points) + np.arange(len(points))[None, :]).ravel()
    out.gaps = _gaps(np.setdiff1d(wanted, units), points, anchor, step)
    return out


def _gaps(missing: np.ndarray, points: list[str], anchor: int, step: int) -> list[Gap]:
    """Missing units (slot × points + point) as runs of consecutive slots per point, in time order."""
    gaps = []
    for p, name in enumerate(points):
        slots = missing[missing % len(points) == p] // len(points)
        if not len(slots):
            continue
        cuts = np.flatnonzero(np.diff(slots) != 1) + 1
        for run in np.split(slots, cuts):
            gaps.append(Gap(name, int(anchor + run[0] * step), int(anchor + (run[-1] + 1) * step), len(run)))
    return sorted(gaps, key=lambda g: (g.start_ms, g.point))


def _raw_gone_days(store: SqlStore, st: Station, period: Period, bounds: np.ndarray, t_ms: np.ndarray) -> list[int]:
    """Indexes of the period's days whose rollup counted reports but which have no raw reading left."""
    counted = {row.day_ms for row in store.rate_days(period.start_ms, period.end_ms, [st.id])
               if row.station == st.id and row.received > 0}
    seen = np.bincount(np.searchsorted(bounds, t_ms, side="right") - 1, minlength=len(bounds))
    return [i for i, day_ms in enumerate(bounds[:-1].tolist()) if day_ms in counted and seen[i] == 0]


def as_json(s: StationSlots, limit: int = LISTED) -> dict:
    """The answer of ``GET /api/rates/slots``: totals, and at most ``limit`` gaps and late reports."""
    st, p = s.station, s.period
    return {"station": st.id, "name": st.name, "region": st.region, "period": p.label,
            "first_day": p.first.isoformat(), "last_day": p.last.isoformat(), "timezone": p.tz.key,
            "interval_ms": st.interval_ms, "points": st.points, "expected": s.expected, "received": s.received,
            "on_time": s.on_time, "late": s.late_count, "future": s.future, "missing": s.missing,
            "gaps": [{"point": g.point, "from_ms": g.start_ms, "to_ms": g.end_ms, "slots": g.slots} for g in s.gaps[:limit]],
            "gaps_total": len(s.gaps),
            "late_reports": [{"point": x.point, "slot_ms": x.slot_ms, "sample_ms": x.sample_ms,
                              "received_ms": x.received_ms, "delay_s": x.delay_s} for x in s.late[:limit]],
            "raw_gone_days": [d.isoformat() for d in s.raw_gone_days]}
