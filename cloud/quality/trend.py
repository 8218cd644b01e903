"""The four rates of a region month by month: the 三率 dashboard's 12-month trend.

Each month is the very report a monthly report would give (report.roll_up over
rollups.period_rates: counts from the day rollups, rates from the counts), so a point on the
trend and that month's report never disagree. The month running now is counted over its whole
days so far (up to yesterday: today's later slots are not due yet), marked ``partial``; months
after it, and the month running now on its first day, are not listed.
"""

from __future__ import annotations

import datetime as dt

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import Period
from watertel.cloud.quality.report import roll_up
from watertel.cloud.quality.rollups import period_rates
from watertel.cloud.registry import Registry
from watertel.cloud.store import SqlStore

MAX_MONTHS = 36


def month_periods(last: dt.date, months: int, cfg: RatesConfig) -> list[Period]:
    """The ``months`` calendar months ending with the one holding ``last``, oldest first."""
    out = []
    year, month = last.year, last.month
    for _ in range(months):
        first = dt.date(year, month, 1)
        end = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        out.append(Period(f"{year}-{month:02d}", first, end, cfg.tz))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def monthly_trend(store: SqlStore, registry: Registry, region: str | None, last: dt.date, months: int,
                  cfg: RatesConfig, today: dt.date) -> list[dict]:
    """One entry per month: the region's counts, its four rates and which miss their target.

    The month holding ``today`` is counted to yesterday (``partial``: true); later months, and
    this month on its first day, are left out.
    """
    stations = registry.stations_in(region)
    out = []
    for period in month_periods(last, months, cfg):
        if period.first >= today:
            continue
        partial = period.last >= today
        counted = Period(period.label, period.first, today - dt.timedelta(days=1), cfg.tz) if partial else period
        rates, _ = period_rates(store, registry.stations, stations, counted, cfg)
        total = roll_up(registry, rates, region)[0]
        out.append({"period": period.label, "first_day": counted.first.isoformat(), "last_day": counted.last.isoformat(),
                    "partial": partial, "stations": total.stations, "reporting_normally": total.normal,
                    "abnormal_stations": total.abnormal, "expected": total.expected, "received": total.received,
                    "on_time": total.on_time, "completeness": total.completeness, "upload_rate": total.upload_rate,
                    "timeliness": total.timeliness, "abnormal_rate": total.abnormal_rate,
                    "below_target": " ".join(total.failing(cfg))})
    return out
