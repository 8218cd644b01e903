"""The 三率 dashboard's views beyond a single report: a region's rates month by month
(``GET /api/rates/trend``) and one station's missing and late reports in a period
(``GET /api/rates/slots``, the drill-down from a station's rates).

Same figures as ``GET /api/rates`` (cloud/quality: trend.py runs each month's report, slots.py
lists what the rates count), within the reader's regions like it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

from fastapi import APIRouter, Query

from watertel.cloud.api.deps import Reader, StoreDep
from watertel.cloud.api.errors import Problem, not_enabled
from watertel.cloud.api.reports import ReportsDep, ReportsSetup, region_in_scope
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.reports import RatesTrendPublic, StationSlotsPublic
from watertel.cloud.quality.period import PeriodError, parse_period
from watertel.cloud.quality.slots import MAX_DAYS, as_json, station_slots
from watertel.cloud.quality.trend import MAX_MONTHS, monthly_trend
from watertel.cloud.registry import Registry

router = APIRouter(prefix="/api/rates", tags=["rates"], responses=refusals(401, 403, 409))
MONTH = r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$"  # 1970-01 … 2999-12


@router.get("/trend", responses=refusals(404, 422))
def trend(who: Reader, store: StoreDep, setup: ReportsDep, region: str | None = None,
          months: Annotated[int, Query(ge=1, le=MAX_MONTHS)] = 12,
          to: Annotated[str | None, Query(pattern=MONTH, description="the last month, YYYY-MM (default: this month)")] = None,
          ) -> RatesTrendPublic:
    """The four rates of a region (or all of yours) for each of ``months`` months up to ``to``."""
    registry = _registry(setup)
    region = region_in_scope(who, registry, region)
    cfg = setup.rates
    today = dt.datetime.fromtimestamp(time.time(), cfg.tz).date()
    last = dt.date(int(to[:4]), int(to[5:]), 1) if to else today
    return RatesTrendPublic.model_validate({
        "region": region, "name": registry.names[region] if region else "", "timezone": cfg.timezone,
        "targets": cfg.targets.model_dump(), "months": monthly_trend(store, registry, region, last, months, cfg, today)})


@router.get("/slots", responses=refusals(404, 422))
def slots(station: str, period: str, who: Reader, store: StoreDep, setup: ReportsDep) -> StationSlotsPublic:
    """One station's missing slots (as runs) and late reports in a period (YYYY-MM-DD, YYYY-MM, YYYY-Qn, FROM..TO)."""
    registry = _registry(setup)
    st = next((s for s in registry.stations if s.id == station), None)
    if st is None:
        raise Problem(404, "station.unknown", f"station {station!r} is not in the registry", station=station)
    if not who.sees(registry.ancestry(st.region)):
        raise Problem(403, "station.outside", f"station {station!r} is outside your regions", station=station)
    try:
        found = station_slots(store, st, parse_period(period, setup.rates.tz), setup.rates)
    except PeriodError as err:  # unreadable
        raise Problem(422, "period.invalid", str(err), period=period) from None
    except ValueError as err:  # longer than slots.MAX_DAYS
        raise Problem(422, "period.too_long", str(err), period=period, max=MAX_DAYS) from None
    except OverflowError:  # a date next to year 1 or 9999: its midnights are out of range
        raise Problem(422, "period.invalid", f"period {period!r}: outside the dates this system handles",
                      period=period) from None
    return StationSlotsPublic.model_validate(as_json(found))


def _registry(setup: ReportsSetup) -> Registry:
    if setup.registry is None:
        raise not_enabled("registry", "registry_file", "no station registry: set registry_file in the cloud config",
                          read_only=False)
    return setup.registry
