"""The four rates per station, from raw readings and the registry (numpy).

Counting unit: a *report* is one point of a station in one interval slot. Slots are laid on a
grid that starts at the period's first local midnight and steps by the station's interval; a
slot is expected when its start lies in the station's service time (commissioned, not
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

import numpy as np

from cloud.quality.config import RatesConfig
from cloud.quality.period import Period
from cloud.registry import Station, to_ms
from watertel.readings import Quality

TRUSTED = np.array([q.trusted_value for q in sorted(Quality)], dtype=bool)
EPS = 1e-9  # ratios compared with thresholds: 19/20 >= 0.95 must hold in floating point


@dataclass
class StationRates:
    """One station's counts in a period and what the rules make of them."""

    station: str
    name: str
    region: str
    interval_minutes: int
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


def _ceil_div(a: np.ndarray, b: int) -> np.ndarray:
    return -((-a) // b)


def expected_per_day(spans: list[tuple[int, int]], bounds: np.ndarray, step: int) -> np.ndarray:
    """Slots (grid ``bounds[0] + k*step``) starting inside ``spans``, per day between ``bounds``."""
    counts = np.zeros(len(bounds) - 1, dtype=np.int64)
    for a, b in spans:
        lo, hi = np.maximum(bounds[:-1], a), np.minimum(bounds[1:], b)
        n = _ceil_div(hi - bounds[0], step) - _ceil_div(lo - bounds[0], step)
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


def received_per_day(st: Station, rows: Rows, spans: list[tuple[int, int]], bounds: np.ndarray,
                     cfg: RatesConfig) -> dict[str, np.ndarray]:
    """Per day: received, on-time, future and flagged reports (each report counted once)."""
    n_days, anchor, step = len(bounds) - 1, int(bounds[0]), st.interval_ms
    keep = np.isin(rows.point, st.points) if st.points else np.ones(len(rows.t_ms), dtype=bool)
    series = np.searchsorted(np.array(sorted(st.points)), rows.point) if st.points else np.zeros(len(rows.t_ms), np.int64)
    slot = (rows.t_ms - anchor) // step
    start = anchor + slot * step
    keep &= np.any([(start >= a) & (start < b) for a, b in spans], axis=0) if spans else False
    if not keep.any():
        return {k: np.zeros(n_days, dtype=np.int64) for k in ("received", "on_time", "future", "flagged")}
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


def station_rates(st: Station, rows: Rows, period: Period, cfg: RatesConfig) -> StationRates:
    """Counts, days and the two rule verdicts of one station for one period."""
    bounds = np.array(period.day_bounds_ms(), dtype=np.int64)
    spans = service_intervals(st, period)
    expected = expected_per_day(spans, bounds, st.interval_ms) * max(len(st.points), 1)
    got = received_per_day(st, rows, spans, bounds, cfg)
    days, rule = period.days, cfg.abnormal_day
    served = expected > 0
    received = got["received"]
    out = StationRates(st.id, st.name, st.region, st.interval_minutes, int(expected.sum()), int(received.sum()),
                       int(got["on_time"].sum()), 0, int(got["future"].sum()), int(got["flagged"].sum()),
                       int(served.sum()))
    out.late = out.received - out.on_time - out.future
    out.silent_days = [days[i] for i in np.flatnonzero(served & (received == 0))]
    out.missing_days = [days[i] for i in np.flatnonzero(served & (received < rule.missing_below * expected - EPS))]
    out.flagged_days = [days[i] for i in np.flatnonzero(served & (received > 0)
                                                         & (got["flagged"] > rule.flagged_above * received + EPS))]
    out.reporting_normally = out.in_service and out.received >= cfg.normal.min_upload_rate * out.expected - EPS \
        and len(out.silent_days) <= cfg.normal.max_silent_days
    out.abnormal = out.in_service and len(out.abnormal_days) >= rule.station_share * out.service_days - EPS
    return out


def _columns(batch: list[tuple], stations: set[str]) -> tuple[np.ndarray, ...]:
    """One batch of rows as numpy columns, rows of other stations dropped."""
    station, point, t_ms, received_ms, quality = zip(*batch)
    keep = np.fromiter((s in stations for s in station), dtype=bool, count=len(station))
    return (np.array(station)[keep], np.array(point)[keep], np.array(t_ms, dtype=np.int64)[keep],
            np.array(received_ms, dtype=np.int64)[keep], np.array(quality, dtype=np.int64)[keep])


def split_rows(batches: Iterable[list[tuple]], stations: set[str]) -> dict[str, Rows]:
    """Group row batches (station, point, t_ms, received_ms, quality) by station, as numpy columns.

    Each batch becomes arrays as it arrives, so a month of a province is never held as tuples.
    """
    parts = [_columns(batch, stations) for batch in batches if batch]
    if not parts:
        return {}
    station, point, t_ms, received_ms, quality = (np.concatenate(col) for col in zip(*parts))
    order = np.argsort(station, kind="stable")
    station, point, t_ms, received_ms, quality = (c[order] for c in (station, point, t_ms, received_ms, quality))
    names, starts = np.unique(station, return_index=True)
    ends = [*starts[1:], len(station)]
    return {str(name): Rows(point[a:b], t_ms[a:b], received_ms[a:b], quality[a:b])
            for name, a, b in zip(names, starts, ends)}


def compute(stations: list[Station], batches: Iterable[list[tuple]], period: Period,
            cfg: RatesConfig) -> list[StationRates]:
    """Every station's rates for the period, in registry order."""
    by_station = split_rows(batches, {s.id for s in stations})
    return [station_rates(s, by_station.get(s.id, Rows.empty()), period, cfg) for s in stations]
