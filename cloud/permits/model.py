"""Water-withdrawal permits (取水许可) in the station registry: who may take how much, where.

A permit holder (取水户) withdraws through one or more meters: a station's totaliser (m³), or for
a well metered by electricity (以电折水) its energy counter (kWh) times a per-well coefficient
(m³/kWh). The permitted annual volume (许可水量) counts over a permit year that starts on a
month-day (1 January unless given); optional plans (用水计划) give an annual volume, twelve
monthly or six bimonthly volumes, in permit-year order (the first is the month the year starts)::

    permits:
      - id: D330106S2026-0001
        holder: 杭州某某食品有限公司      # 取水户
        permitted_m3: 120000            # 许可水量 per permit year
        year_start: "01-01"             # MM-DD (day 1-28), local midnight; default 01-01
        meters:
          - ST-0001                     # its `total` point, m³
          - {station: ST-0002, point: total, wraps_at: 99999999}   # rollover value, if known
          - {station: WELL-07, point: energy, coefficient: 2.4}    # kWh × m³/kWh
        plan:
          annual: 100000
          monthly: [8000, 8000, 8000, 8000, 9000, 9000, 9000, 9000, 8000, 8000, 8000, 8000]

Loaded and cross-checked by ``cloud/registry.py`` (stations exist and report the point, a meter
counts towards one permit only, plans agree with each other and stay within the permit).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from pydantic import Field, field_validator, model_validator

from watertel.config import Strict
from watertel.ids import ID_PATTERN

ID = ID_PATTERN
POINT = r"^[a-z][a-z0-9_]*$"
PLAN_TOLERANCE = 0.005  # monthly or bimonthly plans may differ from the annual plan by this share (rounding)


class Meter(Strict):
    """One meter whose withdrawal counts towards a permit; a bare station id means its ``total``."""

    station: str = Field(pattern=ID)
    point: str = Field("total", pattern=POINT)  # a totaliser (m³) or, with a coefficient, an energy counter (kWh)
    coefficient: float | None = Field(None, gt=0)  # m³ per kWh (以电折水); unset: the point counts m³
    wraps_at: float | None = Field(None, gt=0)  # the counter's rollover value; unknown: a rollover step is skipped

    @model_validator(mode="before")
    @classmethod
    def _station_only(cls, data: Any) -> Any:
        return {"station": data} if isinstance(data, str) else data

    @property
    def key(self) -> tuple[str, str]:
        return (self.station, self.point)

    @property
    def label(self) -> str:
        return f"{self.station}/{self.point}"


class Plan(Strict):
    """Planned volumes (m³) of one permit year; monthly and bimonthly lists in permit-year order."""

    annual: float | None = Field(None, gt=0)
    monthly: list[float] | None = Field(None, min_length=12, max_length=12)
    bimonthly: list[float] | None = Field(None, min_length=6, max_length=6)

    @field_validator("monthly", "bimonthly")
    @classmethod
    def _not_negative(cls, values: list[float] | None) -> list[float] | None:
        if values is not None and any(v < 0 for v in values):
            raise ValueError(f"plan volumes must be >= 0 (got {values})")
        return values


class Permit(Strict):
    id: str = Field(pattern=ID)
    holder: str = Field(min_length=1)  # 取水户
    permitted_m3: float = Field(gt=0)  # 许可水量 per permit year
    year_start: str = "01-01"  # MM-DD of the permit year's first day
    meters: list[Meter] = Field(min_length=1)
    plan: Plan | None = None

    @field_validator("year_start")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            month, day = (int(x) for x in value.split("-"))
            dt.date(2001, month, day)
        except ValueError:
            raise ValueError('must be MM-DD (e.g. "01-01")') from None
        if day > 28:
            raise ValueError("the day must be 1-28 (every month has one)")
        return f"{month:02d}-{day:02d}"

    @property
    def start_month_day(self) -> tuple[int, int]:
        month, day = self.year_start.split("-")
        return int(month), int(day)

    def year_of(self, day: dt.date) -> int:
        """The permit year (the calendar year it starts in) that ``day`` falls in."""
        return day.year if (day.month, day.day) >= self.start_month_day else day.year - 1

    def year_bounds(self, year: int) -> tuple[dt.date, dt.date]:
        """First day of permit year ``year`` and the first day of the next (local dates)."""
        return self.period_start(year, 0), self.period_start(year, 12)

    def period_start(self, year: int, months: int) -> dt.date:
        """The day ``months`` months after the start of permit year ``year``."""
        month, day = self.start_month_day
        index = month - 1 + months
        return dt.date(year + index // 12, index % 12 + 1, day)


def permit_problems(permits: list[Permit], stations: dict[str, list[str]]) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Checks across entries as (location, problem); ``stations`` maps id → listed points (may be [])."""
    ids: set[str] = set()
    owner: dict[tuple[str, str], str] = {}
    for i, p in enumerate(permits):
        if p.id in ids:
            yield ("permits", i, "id"), f"permit id {p.id!r} is used twice (give each permit its own id)"
        ids.add(p.id)
        for j, m in enumerate(p.meters):
            where = ("permits", i, "meters", j)
            if m.station not in stations:
                yield (*where, "station"), f"{m.station!r} is not a station in this file (add it under stations:)"
            elif stations[m.station] and m.point not in stations[m.station]:
                yield (*where, "point"), (f"station {m.station} does not report {m.point!r} (its points:"
                                          f" {', '.join(stations[m.station])})")
            if m.key in owner:
                yield where, f"{m.label} already counts towards permit {owner[m.key]} (a meter counts once)"
            owner.setdefault(m.key, p.id)
        yield from _plan_problems(p, ("permits", i, "plan"))


def _plan_problems(p: Permit, where: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], str]]:
    plan = p.plan
    if plan is None:
        return
    if plan.annual is not None and plan.annual > p.permitted_m3:
        yield (*where, "annual"), (f"the annual plan {plan.annual:g} m3 is above the permitted {p.permitted_m3:g} m3"
                                   " (a plan stays within its permit)")
    for name in ("monthly", "bimonthly"):
        values = getattr(plan, name)
        if values is None:
            continue
        total = sum(values)
        if plan.annual is not None and abs(total - plan.annual) > PLAN_TOLERANCE * plan.annual:
            yield (*where, name), (f"the {name} plans sum to {total:g} m3 but the annual plan is {plan.annual:g} m3"
                                   " (make them agree)")
        elif total > p.permitted_m3 * (1 + PLAN_TOLERANCE):
            yield (*where, name), (f"the {name} plans sum to {total:g} m3, above the permitted"
                                   f" {p.permitted_m3:g} m3 (a plan stays within its permit)")
