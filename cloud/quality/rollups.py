"""Day rollups of the rates: each station's counts per local day, kept as data arrives.

A monthly report of a province reads ~4,000 × 31 rows of ``rate_days`` instead of 34 million
readings, with the very figures the raw readings give: a day's row is ``rates.day_counts`` of
that day's raw rows, the code a report from raw runs.

* **Ingest** marks the 15-minute buckets of the stations that got new readings
  (``rollup_dirty``, in the insert's own transaction; see cloud/store/schema.py).
* **Refresh** moves a batch of marks to ``rollup_claimed`` (by key, so a mark made meanwhile
  stays for the next round), waits for writes then in flight (PostgreSQL: a writer that found
  its bucket already marked wrote no mark of its own), maps each bucket to the local days of the
  slots its readings belong to, recomputes those station-days from the raw readings, and upserts
  them and deletes its claimed marks in one transaction (after a crash the claimed marks are
  taken again). One refresh at a time (``store.rollup_lock``), a few hundred stations a batch.
  The tables and their SQL are the store's (cloud/store/rollups.py).
* **Basis**: a row records a short hash of what its counts depend on besides the readings: the
  station's interval and points, its service time *within that day* (commissioning,
  decommissioning, maintenance, relative to the day's midnight) and the counting settings
  (timezone, on-time window, future tolerance, and ``VERSION`` of this code). A row whose basis
  differs from today's is stale. Only that day's service time goes in, so a maintenance window
  added for next week does not make last year's rows stale (their raw readings may be gone).
* **Hours**: the same refresh recomputes the hour rollups of each point (``point_hours``) for the
  days it recomputes, and writes them in the same transaction (cloud/quality/hourly.py).
* **Reports** (``period_rates``) refresh the period's marks, read the rows, recompute from raw the
  in-service station-days that have no current row (and store them), then apply the rules. A
  stale row whose day has no raw reading left (retention) is kept as it is and listed in the
  report's ``stale_rollups`` problems, rather than recomputed to zero.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from watertel.cloud.permits.model import Meter
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.hourly import count_hours
from watertel.cloud.quality.period import Period
from watertel.cloud.quality.rates import COUNTS, DayCounts, Rows, StationRates, day_counts, expected_per_day, grid_anchor, \
    grid_ceil, rates_from_days, read_end, service_intervals
from watertel.cloud.registry import Station
from watertel.cloud.store import SqlStore
from watertel.cloud.store.hourly import PointHour
from watertel.cloud.store.rollups import Mark, RateDay
from watertel.cloud.store.schema import DIRTY_BUCKET_MS

VERSION = 1  # raise when a change to the counting changes what a stored day means
BATCH_STATIONS = 200  # stations per refresh batch: each batch is two short write transactions
ALL = (-(2**62), 2**62)  # bucket window of a refresh that takes every mark


@dataclass
class Basis:
    """Basis hashes of station-days under one set of settings (cached: most days hash alike)."""

    cfg: RatesConfig
    _seen: dict[tuple, str] = field(default_factory=dict)
    _runs: dict[tuple, list[str]] = field(default_factory=dict)  # stations alike in a report: one list

    def days(self, st: Station, spans: list[tuple[int, int]], bounds: list[int]) -> list[str]:
        """One hash per day between ``bounds``; ``spans`` are the station's service time there."""
        head = (st.interval_ms, tuple(sorted(st.points)))
        if (out := self._runs.get(run := (head, tuple(spans), tuple(bounds)))) is not None:
            return out
        out = self._runs[run] = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            key = (*head, tuple((max(a, lo) - lo, min(b, hi) - lo) for a, b in spans if a < hi and b > lo))
            if (text := self._seen.get(key)) is None:
                text = self._seen[key] = _hash(self.cfg, key)
            out.append(text)
        return out


def _hash(cfg: RatesConfig, key: tuple) -> str:
    settings = [VERSION, cfg.timezone, cfg.on_time_minutes, cfg.future_tolerance_s]
    return hashlib.blake2b(json.dumps([settings, key]).encode(), digest_size=8).hexdigest()


def station_rows(store: SqlStore, st: Station, start_ms: int, end_ms: int) -> Rows:
    """The station's raw rows sampled in [start_ms, end_ms), as columns."""
    found = store.arrivals(st.id, st.points, start_ms, end_ms)
    if not found.t_ms:
        return Rows.empty()
    return Rows(np.array(found.point), *(np.array(c, dtype=np.int64) for c in found[1:]))


def last_samples(store: SqlStore, stations: list[Station], before_ms: int) -> dict[str, int]:
    """``SqlStore.last_samples`` for these stations, in time that does not grow with the readings kept."""
    out = {}
    for st in stations:
        t = store.last_sample(st.id, before_ms)
        if t is not None:
            out[st.id] = int(t)
    return out


@dataclass
class Counted:
    """A run of consecutive days of one station recomputed from raw."""

    days: list[dt.date]
    bounds: list[int]  # local midnights, one more than days
    counts: DayCounts
    basis: list[str]
    seen: np.ndarray  # raw rows sampled in each day (any point): 0 when the day's raw rows are gone


def count_days(store: SqlStore, st: Station, first: dt.date, last: dt.date, cfg: RatesConfig,
               basis: Basis) -> Counted:
    """Days ``first`` … ``last`` of one station, from its raw readings, as a rollup holds them."""
    run = Period("", first, last, cfg.tz)
    bounds, anchor, spans = run.day_bounds_ms(), grid_anchor(cfg.tz), service_intervals(st, run)
    rows = station_rows(store, st, bounds[0], grid_ceil(bounds[-1], anchor, st.interval_ms))
    seen = np.bincount(np.searchsorted(bounds, rows.t_ms, side="right") - 1, minlength=len(bounds))[:len(run.days)]
    counts = day_counts(st, rows, np.array(bounds, dtype=np.int64), spans, cfg, anchor)
    return Counted(run.days, bounds, counts, basis.days(st, spans, bounds), seen)


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    out: list[list[dt.date]] = []
    for day in sorted(set(days)):
        if out and day - out[-1][1] == dt.timedelta(days=1):
            out[-1][1] = day
        else:
            out.append([day, day])
    return [(a, b) for a, b in out]


def _row(st: Station, c: Counted, i: int) -> RateDay:
    return RateDay(c.bounds[i], st.id, c.basis[i], *(int(getattr(c.counts, k)[i]) for k in COUNTS))


def bucket_days(st: Station, buckets: Iterable[int], cfg: RatesConfig) -> set[dt.date]:
    """The local days of the slots that readings in these buckets belong to."""
    anchor, step, b = grid_anchor(cfg.tz), st.interval_ms, np.fromiter(buckets, dtype=np.int64)
    t = np.concatenate([b * DIRTY_BUCKET_MS, (b + 1) * DIRTY_BUCKET_MS - 1])  # slot starts lie between these
    slot = anchor + ((t - anchor) // step) * step
    first, last = (dt.datetime.fromtimestamp(int(x) / 1000, cfg.tz).date() for x in (slot.min(), slot.max()))
    bounds = Period("", first, last, cfg.tz).day_bounds_ms()
    return {first + dt.timedelta(days=int(i)) for i in np.unique(np.searchsorted(bounds, slot, side="right") - 1)}


def claim(store: SqlStore, after: str, window: tuple[int, int], batch: int) -> list[Mark]:
    """Move the marks of the next ``batch`` stations after ``after`` to ``rollup_claimed``; return
    them, with marks a failed refresh had claimed. By key: a mark made meanwhile stays where it is."""
    return store.claim_rollup_marks(after, window, batch)


def finish(store: SqlStore, rows: list[RateDay], marks: list[Mark], hours: Sequence[PointHour] = ()) -> None:
    """Store the recomputed rows (day rows, and ``hours`` of point_hours) and forget the marks they
    answer, in one transaction."""
    store.finish_rollups(rows, marks, hours)


def refresh(store: SqlStore, stations: list[Station], cfg: RatesConfig, window: tuple[int, int] = ALL,
            batch: int = BATCH_STATIONS, meters: Mapping[tuple[str, str], Meter] | None = None) -> int:
    """Bring the rows of every marked station-day up to date, and the hour rollups of those days
    (cloud/quality/hourly.py); returns how many marks were cleared.

    ``window``: only marks with a bucket in [from, to) (a report refreshes its period only). One
    pass through the marked stations in id order, ``batch`` stations at a time, so a station that
    gets data all the time does not keep the pass going. ``meters``: permit meters by (station,
    point), for a totaliser's rollover value in the hour volumes.
    """
    by_id, basis, after, cleared = {s.id: s for s in stations}, Basis(cfg), "", 0
    while True:
        with store.rollup_lock():
            marks = claim(store, after, window, batch)
            if not marks:
                return cleared
            buckets: dict[str, list[int]] = {}
            for station, bucket in marks:
                buckets.setdefault(station, []).append(int(bucket))
            rows: list[RateDay] = []
            hours: list[PointHour] = []
            for station, found in buckets.items():
                st = by_id.get(station)
                if st is None:
                    continue  # not in the registry: nothing is expected of it (its marks go)
                for first, last in _runs(bucket_days(st, found, cfg)):
                    c = count_days(store, st, first, last, cfg, basis)
                    rows += [_row(st, c, i) for i in np.flatnonzero(c.counts.expected > 0)]
                    hours += count_hours(store, st, first, last, cfg, meters)
            finish(store, rows, marks, hours)
        cleared += len(marks)
        after = max(buckets)


def report_window(stations: list[Station], period: Period) -> tuple[int, int]:
    """The buckets whose readings can belong to the period's slots."""
    longest = max((s.interval_ms for s in stations), default=0)
    return (period.start_ms - longest) // DIRTY_BUCKET_MS, read_end(stations, period) // DIRTY_BUCKET_MS + 1


def stored(store: SqlStore, period: Period, stations: list[Station]) -> tuple[np.ndarray, np.ndarray]:
    """The period's rows as arrays [station, day]: counts (received, on_time, future, flagged) and basis."""
    index = {s.id: i for i, s in enumerate(stations)}
    days = {ms: i for i, ms in enumerate(period.day_bounds_ms()[:-1])}
    counts = np.zeros((len(stations), len(days), len(COUNTS)), dtype=np.int64)
    basis = np.full((len(stations), len(days)), "", dtype=object)
    rows = store.rate_days(period.start_ms, period.end_ms, list(index))
    if rows:
        day_ms, station, text, *values = zip(*rows)
        s = np.fromiter((index.get(x, -1) for x in station), dtype=np.int64, count=len(rows))
        d = np.fromiter((days.get(x, -1) for x in day_ms), dtype=np.int64, count=len(rows))
        ok = (s >= 0) & (d >= 0)
        counts[s[ok], d[ok]] = np.array(values, dtype=np.int64).T[ok]
        basis[s[ok], d[ok]] = np.array(text, dtype=object)[ok]
    return counts, basis


def period_rates(store: SqlStore, everyone: list[Station], stations: list[Station], period: Period,
                 cfg: RatesConfig) -> tuple[list[StationRates], list[dict]]:
    """The stations' rates for the period from the day rollups, and the stale rows used as they were.

    ``everyone``: the registry's stations (marks of all of them in the period are refreshed).
    """
    refresh(store, everyone, cfg, report_window(everyone, period))
    counts, have = stored(store, period, stations)
    bounds, days, anchor, basis = period.day_bounds_ms(), period.days, grid_anchor(period.tz), Basis(cfg)
    edges = np.array(bounds, dtype=np.int64)
    out, kept, fresh = [], [], []
    with store.rollup_lock():  # a refresh must not write older counts after these, or these after its
        for i, st in enumerate(stations):
            spans = service_intervals(st, period)
            expected = expected_per_day(spans, edges, st.interval_ms, anchor) * max(len(st.points), 1)
            want = np.array(basis.days(st, spans, bounds), dtype=object)
            need = (expected > 0) & (have[i] != want)
            mine = counts[i]
            old: list[dt.date] = []
            for first, last in _runs(days[j] for j in np.flatnonzero(need)):
                c = count_days(store, st, first, last, cfg, basis)
                for k, day in enumerate(c.days):
                    j = (day - period.first).days
                    if not need[j]:
                        continue
                    if have[i][j] and c.seen[k] == 0 and mine[j, 0] > 0:  # stale, and its raw rows are gone
                        old.append(day)
                        continue
                    fresh.append(_row(st, c, k))
                    mine[j] = [getattr(c.counts, name)[k] for name in COUNTS]
            if old:
                kept.append({"station": st.id, "name": st.name, "region": st.region,
                             "days": [d.isoformat() for d in old]})
            out.append(rates_from_days(st, days, DayCounts(expected, *mine.T), cfg))
        if fresh:
            store.put_rate_days(fresh)
    return out, kept
