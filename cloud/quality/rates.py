"""The four rates per station, from raw readings and the registry (numpy).

Counting unit: a *report* is one point of a station in one interval slot. Slots are laid on a
grid that starts at local midnight of 2000-01-01 in the calendar (``grid_anchor``) and steps by the
station's interval, so a day's slots are the same in every period that holds it (the day rollups
of rollups.py add up to any period); with an interval that divides the day every local midnight
is on the grid. A slot belongs to the day its start falls in, and is expected when that start
lies in the station's service time (commissioned, not
decommissioned, not in maintenance). With ``points`` listed each point is expected in each slot;
without, one report from any point per slot. A slot is counted once however many readings fall in
it (duplicates, re-sampled values), and readings outside service time count for nothing, so the
upload rate never exceeds 100 %.

A report is *on time* when one of its readings arrived within ``on_time_minutes`` of its sample
time; one whose readings all carry a sample time later than their arrival (beyond
``future_tolerance_s``) is *future* (the gateway clock runs ahead): received, flagged, never on
time. A report is *flagged* when none of its readings is both trustworthy (``Quality.trusted_value``)
and in the past. Each day's counts then give silent, missing and abnormal days (see config.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import Period
from watertel.cloud.registry import Station, to_ms
from watertel.readings import Quality

TRUSTED = np.array([q.trusted_value for q in sorted(Quality)], dtype=bool)
EPS = 1e-9  # ratios compared with thresholds: 19/20 >= 0.95 must hold in floating point


@dataclass
class StationRates:
    """One station's counts in a period and what the rules make of them."""

    station: str
    name: str
    region: str
    interval_minutes: float  # a fraction only in a time-compressed (interval_seconds) run
    expected: int = 0
    received: int = 0
    on_time: int = 0
    late: int = 0
    future: int = 0
    flagged: int = 0
    service_days: int = 0
    silent_days: list[dt.date] = field(default_factory=list)
    missing_days: list[dt.date] = field(default_factory=list)
    flagged_days: list[dt.date] = field(default_factory=list)
    reporting_normally: bool = False
    abnormal: bool = False

    @property
    def in_service(self) -> bool:
        return self.expected > 0

    @property
    def abnormal_days(self) -> list[dt.date]:
        return sorted(set(self.missing_days) | set(self.flagged_days))

    @property
    def upload_rate(self) -> float | None:
        return self.received / self.expected if self.expected else None

    @property
    def timeliness(self) -> float | None:
        return self.on_time / self.received if self.received else None


def trusted(quality: np.ndarray) -> np.ndarray:
    """Whether each quality code leaves the value trustworthy (unknown codes do not)."""
    known = (quality >= 0) & (quality < len(TRUSTED))
    return known & TRUSTED[np.where(known, quality, 0)]


def service_intervals(st: Station, period: Period) -> list[tuple[int, int]]:
    """The station's service time within the period, as sorted disjoint [start, end) in Unix ms."""
    start = max(period.start_ms, to_ms(st.commissioned, period.tz))
    end = period.end_ms if st.decommissioned is None else min(period.end_ms, to_ms(st.decommissioned, period.tz))
    spans = [(start, end)] if end > start else []
    for window in st.maintenance:
        cut_from, cut_to = window.bounds_ms(period.tz)
        spans = [piece for a, b in spans for piece in ((a, min(b, cut_from)), (max(a, cut_to), b)) if piece[1] > piece[0]]
    return spans


GRID_EPOCH = dt.date(2000, 1, 1)


def grid_anchor(tz: ZoneInfo) -> int:
    """Unix ms of the slot grid's origin: local midnight of ``GRID_EPOCH`` in the calendar.

    Fixed rather than the period's start, so a day counts the same whatever period holds it:
    a 7-minute or a weekly station has its slots where they are, not re-laid per report.
    """
    return to_ms(GRID_EPOCH, tz)


def grid_ceil(t_ms: int, anchor: int, step: int) -> int:
    """The first slot start at or after ``t_ms``: readings from there on belong to slots from ``t_ms`` on."""
    return anchor - ((anchor - t_ms) // step) * step


def _ceil_div(a: np.ndarray, b: int) -> np.ndarray:
    return -((-a) // b)


def expected_per_day(spans: list[tuple[int, int]], bounds: np.ndarray, step: int, anchor: int) -> np.ndarray:
    """Slots (grid ``anchor + k*step``) starting inside ``spans``, per day between ``bounds``."""
    counts = np.zeros(len(bounds) - 1, dtype=np.int64)
    for a, b in spans:
        lo, hi = np.maximum(bounds[:-1], a), np.minimum(bounds[1:], b)
        n = _ceil_div(hi - anchor, step) - _ceil_div(lo - anchor, step)
        counts += np.where(hi > lo, n, 0)
    return counts


@dataclass
class Rows:
    """One station's readings in the period, column by column."""

    point: np.ndarray  # str
    t_ms: np.ndarray
    received_ms: np.ndarray
    quality: np.ndarray

    @staticmethod
    def empty() -> Rows:
        return Rows(np.array([], dtype=str), *(np.array([], dtype=np.int64) for _ in range(3)))


COUNTS = ("received", "on_time", "future", "flagged")  # what a day rollup keeps (expected comes from the registry)


@dataclass
class DayCounts:
    """One station's reports per day of a run of days (arrays of equal length)."""

    expected: np.ndarray
    received: np.ndarray
    on_time: np.ndarray
    future: np.ndarray
    flagged: np.ndarray


def received_per_day(st: Station, rows: Rows, spans: list[tuple[int, int]], bounds: np.ndarray,
                     cfg: RatesConfig, anchor: int) -> dict[str, np.ndarray]:
    """Per day: received, on-time, future and flagged reports (each report counted once).

    Only slots starting in ``spans`` (which lie between ``bounds``) count, so rows read from a
    wider window than the days change nothing.
    """
    n_days, step = len(bounds) - 1, st.interval_ms
    keep = np.isin(rows.point, st.points) if st.points else np.ones(len(rows.t_ms), dtype=bool)
    series = np.searchsorted(np.array(sorted(st.points)), rows.point) if st.points else np.zeros(len(rows.t_ms), np.int64)
    slot = (rows.t_ms - anchor) // step
    start = anchor + slot * step
    keep &= np.any([(start >= a) & (start < b) for a, b in spans], axis=0) if spans else False
    if not keep.any():
        return {k: np.zeros(n_days, dtype=np.int64) for k in COUNTS}
    slot, series, start = slot[keep], series[keep], start[keep]
    delay = rows.received_ms[keep] - rows.t_ms[keep]
    future = delay < -cfg.future_tolerance_s * 1000
    on_time = ~future & (delay <= cfg.on_time_minutes * 60_000)
    good = ~future & trusted(rows.quality[keep])
    unit, first, inverse = np.unique(slot * max(len(st.points), 1) + series, return_index=True, return_inverse=True)
    day = np.searchsorted(bounds, start[first], side="right") - 1

    def any_of(flags: np.ndarray) -> np.ndarray:  # per report: does one of its readings have the flag?
        return np.bincount(inverse, weights=flags, minlength=len(unit)) > 0

    def per_day(flags: np.ndarray) -> np.ndarray:  # reports with the flag, per day
        return np.bincount(day, weights=flags, minlength=n_days).astype(np.int64)

    return {"received": per_day(np.ones(len(unit))), "on_time": per_day(any_of(on_time)),
            "future": per_day(~any_of(~future)), "flagged": per_day(~any_of(good))}


def day_counts(st: Station, rows: Rows, bounds: np.ndarray, spans: list[tuple[int, int]], cfg: RatesConfig,
               anchor: int) -> DayCounts:
    """A station's counts per day between ``bounds`` (local midnights), from its raw rows.

    ``spans``: its service time, clipped to the days. What a day rollup stores is exactly this
    for one day, so rollups and raw rows give the same figures.
    """
    expected = expected_per_day(spans, bounds, st.interval_ms, anchor) * max(len(st.points), 1)
    return DayCounts(expected, **received_per_day(st, rows, spans, bounds, cfg, anchor))


def rates_from_days(st: Station, days: list[dt.date], c: DayCounts, cfg: RatesConfig) -> StationRates:
    """The period's counts, its silent, missing and flagged days and the two rule verdicts."""
    rule = cfg.abnormal_day
    served = c.expected > 0
    received = c.received
    out = StationRates(st.id, st.name, st.region, st.minutes, int(c.expected.sum()), int(received.sum()),
                       int(c.on_time.sum()), 0, int(c.future.sum()), int(c.flagged.sum()), int(served.sum()))
    out.late = out.received - out.on_time - out.future
    out.silent_days = [days[i] for i in np.flatnonzero(served & (received == 0))]
    out.missing_days = [days[i] for i in np.flatnonzero(served & (received < rule.missing_below * c.expected - EPS))]
    out.flagged_days = [days[i] for i in np.flatnonzero(served & (received > 0)
                                                         & (c.flagged > rule.flagged_above * received + EPS))]
    out.reporting_normally = out.in_service and out.received >= cfg.normal.min_upload_rate * out.expected - EPS \
        and len(out.silent_days) <= cfg.normal.max_silent_days
    out.abnormal = out.in_service and len(out.abnormal_days) >= rule.station_share * out.service_days - EPS
    return out


def station_rates(st: Station, rows: Rows, period: Period, cfg: RatesConfig) -> StationRates:
    """Counts, days and the two rule verdicts of one station for one period."""
    bounds = np.array(period.day_bounds_ms(), dtype=np.int64)
    counts = day_counts(st, rows, bounds, service_intervals(st, period), cfg, grid_anchor(period.tz))
    return rates_from_days(st, period.days, counts, cfg)


def read_end(stations: list[Station], period: Period) -> int:
    """Where rows must be read up to: the period's end, or the end of a last slot that runs past it
    (only for an interval that does not divide the day)."""
    anchor = grid_anchor(period.tz)
    return max([period.end_ms, *(grid_ceil(period.end_ms, anchor, s.interval_ms) for s in stations)])


def _row_type(stations: list[Station]) -> np.dtype:
    """Rows as a numpy record, parsed in C (twice as fast as unzipping tuples).

    Text fields are one character wider than the longest registered id or point, so a longer
    name from elsewhere, cut to that width, can never pass for a registered one.
    """
    station_width = max((len(s.id) for s in stations), default=0) + 1
    point_width = max((len(p) for s in stations for p in s.points), default=0) + 1
    return np.dtype([("station", f"U{station_width}"), ("point", f"U{point_width}"), ("t_ms", "i8"),
                     ("received_ms", "i8"), ("quality", "i8")])


def split_rows(batches: Iterable[list[tuple]], stations: list[Station]) -> dict[str, Rows]:
    """Group row batches (station, point, t_ms, received_ms, quality) by station, as numpy columns.

    Each batch becomes a record array as it arrives, rows of other stations dropped, so a month
    of a province is never held as tuples. Rows come from the store in key order, so stations
    are handled as runs of equal ids rather than by sorting millions of strings.
    """
    row_type, ids = _row_type(stations), {s.id for s in stations}
    parts = []
    for batch in batches:
        if batch:
            rows = np.array(batch, dtype=row_type)
            heads, lengths = _runs(rows["station"])
            keep = np.fromiter((str(name) in ids for name in rows["station"][heads]), dtype=bool, count=len(heads))
            parts.append(rows[np.repeat(keep, lengths)])
    if not parts:
        return {}
    rows = np.concatenate(parts)
    if len(rows) > 1 and not (rows["station"][1:] >= rows["station"][:-1]).all():
        rows = rows[np.argsort(rows["station"], kind="stable")]
    heads, lengths = _runs(rows["station"])
    return {str(rows["station"][a]): Rows(rows["point"][a:a + n], rows["t_ms"][a:a + n], rows["received_ms"][a:a + n],
                                          rows["quality"][a:a + n]) for a, n in zip(heads.tolist(), lengths.tolist())}


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal consecutive values."""
    if not len(values):
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    heads = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    return heads, np.diff(np.append(heads, len(values)))


def compute(stations: list[Station], batches: Iterable[list[tuple]], period: Period,
            cfg: RatesConfig) -> list[StationRates]:
    """Every station's rates for the period, in registry order."""
    by_station = split_rows(batches, stations)
    return [station_rates(s, by_station.get(s.id, Rows.empty()), period, cfg) for s in stations]
