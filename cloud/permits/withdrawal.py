"""Withdrawal (取水量) in a permit year from counter readings, and when it will pass the permit.

A meter's volume is the sum of its counter's steps between trusted readings, each step counted
on the local day of its later reading:

- a plain step ``v − prev`` counts whole, however long the gap before it (the counter kept
  counting while nothing reached us);
- across a rollover (``TOTAL_ROLLOVER``, or an unflagged drop from the top tenth of a known
  ``wraps_at`` to the bottom tenth) the step is ``wraps_at − prev + v``; with ``wraps_at``
  unknown the step is skipped and counted in ``rollovers_skipped`` (volume is missing there);
- a meter replaced or reset (``TOTAL_RESET``, or any other drop) counts nothing: the count
  starts again from the new reading (``resets``);
- a reading without a trusted value (timeout, fault, out of range) is skipped (``untrusted``);
  the next trusted one takes the step from the last trusted one.

Readings sampled before the year start only set the starting value, so the step across the
year boundary counts in the new year. An energy counter (kWh) becomes m³ times the meter's
coefficient (以电折水).

Projection: the run rate is the volume since local midnight 30 days (``window_days``) before
the as-of time (or since the year start, if later) per elapsed day; the permit is projected to
be reached ``remaining ÷ rate`` days after the as-of time. When the previous permit year was
recorded whole (every meter read within 2 days of its start and end), a second projection
follows last year's day volumes, scaled by this year's volume ÷ last year's over the same
window days; the earlier of the two dates is given (a warning must never come late).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Iterable
from zoneinfo import ZoneInfo

from watertel.cloud.permits.model import Meter, Permit
from watertel.readings import Quality

DAY = 86_400_000
WRAP_ZONE = 0.1  # as at the edge (edge_agent/poll/totaliser.py)
LOOKBACK_MS = 2 * DAY  # readings this long before the year start give the starting value
WHOLE_YEAR_SLACK_MS = 2 * DAY  # a year is "recorded whole" with readings this close to its ends
TRUSTED = frozenset(q for q in Quality if q.trusted_value)


def midnight_ms(day: dt.date, tz: ZoneInfo) -> int:
    """Unix milliseconds of a date's local midnight (``registry.to_ms`` of a date; the registry
    imports the permits, so not the other way round)."""
    return int(dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp() * 1000)


@dataclass
class MeterVolume:
    """One meter's withdrawal (m³) from ``start_ms`` on, and what was done with odd readings."""

    meter: Meter
    volume: float = 0.0
    by_day: dict[dt.date, float] = field(default_factory=dict)
    readings: int = 0  # trusted readings used (before the start too)
    untrusted: int = 0
    rollovers: int = 0  # counted across the wrap
    rollovers_skipped: int = 0  # wrap value unknown: not counted
    resets: int = 0
    first_ms: int | None = None
    last_ms: int | None = None


def meter_volume(rows: Iterable[tuple[int, float | None, int]], meter: Meter, start_ms: int,
                 tz: ZoneInfo) -> MeterVolume:
    """The volume of (t_ms, value, quality) rows of one counter, in time order (see module doc)."""
    out = MeterVolume(meter)
    factor = meter.coefficient or 1.0
    top = meter.wraps_at
    prev: float | None = None
    for t_ms, value, quality in rows:
        if value is None or quality not in TRUSTED or not math.isfinite(value):
            out.untrusted += 1
            continue
        out.readings += 1
        out.first_ms = t_ms if out.first_ms is None else out.first_ms
        out.last_ms = t_ms
        before, prev = prev, value
        if before is None:
            continue
        wrapped = quality == Quality.TOTAL_ROLLOVER or (
            value < before and top is not None and before >= top * (1 - WRAP_ZONE) and value <= top * WRAP_ZONE)
        if wrapped:
            if top is None:
                out.rollovers_skipped += 1
                continue
            out.rollovers += 1
            step = top - before + value
        elif quality == Quality.TOTAL_RESET or value < before:
            out.resets += 1
            continue
        else:
            step = value - before
        if t_ms >= start_ms and step > 0:
            day = dt.datetime.fromtimestamp(t_ms / 1000, tz).date()
            out.by_day[day] = out.by_day.get(day, 0.0) + step * factor
            out.volume += step * factor
    return out


@dataclass
class PlanUse:
    """Volume against one plan period (the annual plan, or the month or two months now running)."""

    kind: str  # annual | monthly | bimonthly
    first: dt.date
    end: dt.date  # exclusive
    planned: float
    volume: float

    @property
    def share(self) -> float | None:
        return self.volume / self.planned if self.planned > 0 else None

    @property
    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        return f"{self.kind} {self.first.isoformat()}..{last.isoformat()}"


@dataclass
class Projection:
    date: dt.date | None  # the day the permit is (projected to be) reached; None: not at this rate
    method: str  # exceeded | run_rate | last_year_profile | none
    rate_m3_per_day: float | None = None
    run_rate_date: dt.date | None = None
    profile_date: dt.date | None = None


@dataclass
class PermitStatus:
    permit: Permit
    year: int
    first: dt.date  # the permit year's first day
    end: dt.date  # the next permit year's first day
    as_of_ms: int
    meters: list[MeterVolume]
    volume: float
    by_day: dict[dt.date, float]
    plans: list[PlanUse]
    projection: Projection

    @property
    def share(self) -> float:
        return self.volume / self.permit.permitted_m3

    @property
    def projected_within_year(self) -> bool:
        return self.projection.date is not None and self.projection.date < self.end

    def crossed_on(self, share: float) -> dt.date | None:
        """The day the year's volume first reached ``share`` of the permit (None: not yet)."""
        return _crossed(self.by_day, share * self.permit.permitted_m3)


def _crossed(by_day: dict[dt.date, float], limit: float) -> dt.date | None:
    total = 0.0
    for day in sorted(by_day):
        total += by_day[day]
        if total >= limit - 1e-9:
            return day
    return None


def permit_status(permit: Permit, rows: dict[tuple[str, str], list[tuple[int, float | None, int]]], year: int,
                  as_of_ms: int, tz: ZoneInfo, window_days: int = 30,
                  last_year: list[MeterVolume] | None = None) -> PermitStatus:
    """The permit's withdrawal in permit year ``year`` up to ``as_of_ms`` from each meter's rows
    ((t_ms, value, quality), time order, sampled before ``as_of_ms``), its plans and projection.

    ``last_year``: the meters' volumes over the previous permit year, for the profile projection.
    """
    first, end = permit.year_bounds(year)
    start_ms = midnight_ms(first, tz)
    meters = [meter_volume(rows.get(m.key, []), m, start_ms, tz) for m in permit.meters]
    by_day = _sum_days(m.by_day for m in meters)
    volume = sum(m.volume for m in meters)
    today = dt.datetime.fromtimestamp((as_of_ms - 1) / 1000, tz).date()
    status = PermitStatus(permit, year, first, end, as_of_ms, meters, volume, by_day,
                          _plans(permit, year, today, by_day), Projection(None, "none"))
    status.projection = _project(status, tz, window_days, last_year)
    return status


def _sum_days(parts: Iterable[dict[dt.date, float]]) -> dict[dt.date, float]:
    total: dict[dt.date, float] = {}
    for part in parts:
        for day, v in part.items():
            total[day] = total.get(day, 0.0) + v
    return total


def _plans(permit: Permit, year: int, today: dt.date, by_day: dict[dt.date, float]) -> list[PlanUse]:
    """The plan periods running on ``today`` (annual, and the current month or two months)."""
    plan = permit.plan
    if plan is None:
        return []
    out = []
    first, end = permit.year_bounds(year)
    if plan.annual is not None:
        out.append(PlanUse("annual", first, end, plan.annual, sum(by_day.values())))
    for kind, values, months in (("monthly", plan.monthly, 1), ("bimonthly", plan.bimonthly, 2)):
        for i, planned in enumerate(values or []):
            a, b = permit.period_start(year, i * months), permit.period_start(year, (i + 1) * months)
            if a <= today < b:
                out.append(PlanUse(kind, a, b, planned, sum(v for d, v in by_day.items() if a <= d < b)))
    return out


def _project(s: PermitStatus, tz: ZoneInfo, window_days: int, last_year: list[MeterVolume] | None) -> Projection:
    limit = s.permit.permitted_m3
    if s.volume >= limit - 1e-9:
        return Projection(_crossed(s.by_day, limit), "exceeded")
    start_ms = midnight_ms(s.first, tz)
    w_first = dt.datetime.fromtimestamp(max(s.as_of_ms - window_days * DAY, start_ms) / 1000, tz).date()
    span = (s.as_of_ms - midnight_ms(w_first, tz)) / DAY
    if span < 1:
        return Projection(None, "none")
    recent = sum(v for d, v in s.by_day.items() if d >= w_first)
    rate = recent / span
    remaining = limit - s.volume
    run_date = None
    if rate > 0:
        run_date = dt.datetime.fromtimestamp((s.as_of_ms + remaining / rate * DAY) / 1000, tz).date()
    profile_date = _profile_date(s, tz, w_first, recent, last_year)
    dates = [(d, m) for d, m in ((run_date, "run_rate"), (profile_date, "last_year_profile")) if d is not None]
    best = min(dates, default=(None, "none"))
    return Projection(best[0], best[1], rate, run_date, profile_date)


def _profile_date(s: PermitStatus, tz: ZoneInfo, w_first: dt.date, recent: float,
                  last_year: list[MeterVolume] | None) -> dt.date | None:
    """Walk last year's day volumes (scaled to this year's level) forward from the as-of day."""
    if not last_year or recent <= 0:
        return None
    prev_first, prev_end = s.permit.year_bounds(s.year - 1)
    a, b = midnight_ms(prev_first, tz), midnight_ms(prev_end, tz)
    if any(m.first_ms is None or m.first_ms > a + WHOLE_YEAR_SLACK_MS or m.last_ms < b - WHOLE_YEAR_SLACK_MS
           for m in last_year):
        return None
    days = _sum_days(m.by_day for m in last_year)

    def then(day: dt.date) -> float:
        return days.get(prev_first + (day - s.first), 0.0)

    today = dt.datetime.fromtimestamp((s.as_of_ms - 1) / 1000, tz).date()
    before = sum(then(w_first + dt.timedelta(days=i)) for i in range((today - w_first).days + 1))
    if before <= 0:
        return None
    scale = recent / before
    rest = (midnight_ms(today + dt.timedelta(days=1), tz) - s.as_of_ms) / DAY  # of today, still to come
    total, day = s.volume + then(today) * scale * rest, today + dt.timedelta(days=1)
    if rest > 0 and total >= s.permit.permitted_m3 - 1e-9:
        return today
    while day < s.end:
        total += then(day) * scale
        if total >= s.permit.permitted_m3 - 1e-9:
            return day
        day += dt.timedelta(days=1)
    return None


def load_status(store, permit: Permit, as_of_ms: int, tz: ZoneInfo, window_days: int = 30,
                profile: bool = True) -> PermitStatus:
    """The permit's status for the permit year containing ``as_of_ms``, read from the store
    (``SqlStore.totaliser_rows``); with ``profile``, last year's readings too."""
    year = permit.year_of(dt.datetime.fromtimestamp((as_of_ms - 1) / 1000, tz).date())
    first, _ = permit.year_bounds(year)
    start_ms = midnight_ms(first, tz)
    rows = _rows(store, permit, start_ms - LOOKBACK_MS, as_of_ms)
    last_year = None
    if profile:
        prev_first, _ = permit.year_bounds(year - 1)
        prev_ms = midnight_ms(prev_first, tz)
        old = _rows(store, permit, prev_ms - LOOKBACK_MS, start_ms)
        last_year = [meter_volume(old.get(m.key, []), m, prev_ms, tz) for m in permit.meters]
    return permit_status(permit, rows, year, as_of_ms, tz, window_days, last_year)


def _rows(store, permit: Permit, start_ms: int, end_ms: int) -> dict[tuple[str, str], list[tuple]]:
    wanted = {m.key for m in permit.meters}
    out: dict[tuple[str, str], list[tuple]] = {}
    found = store.totaliser_rows(sorted({m.station for m in permit.meters}), sorted({m.point for m in permit.meters}),
                                 start_ms, end_ms)
    for station, point, t_ms, value, quality in found:
        if (station, point) in wanted:
            out.setdefault((station, point), []).append((t_ms, value, quality))
    return out

