"""Water-withdrawal permits in the console: ``GET /api/permits``.

One row per permit in the registry, within the reader's regions: the permit year's withdrawal
so far against the permitted volume (and day by day, for the chart of its running total), the plan as the registry gives it and the running plan
periods, the tier reached and the projected exceedance date. The figures come from the same
code as `watertel report permits` and the over-permit alarms (``withdrawal.load_status`` and
``permits_report.row``), so the console, the report and the alarm never disagree.

A permit lies in the region of its first meter's station, as in the report's ``region`` column.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.api.deps import AncestryDep, Reader, RegistryDep, StoreDep
from watertel.cloud.api.reports import ReportsSetup, get_reports_setup
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.permits import PermitsPublic
from watertel.cloud.permits import Permit
from watertel.cloud.permits.report import row
from watertel.cloud.permits.withdrawal import load_status
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import Registry
from watertel.cloud.store import SqlStore

router = APIRouter(prefix="/api", tags=["permits"], responses=refusals(401, 403))


@router.get("/permits")
def permits(who: Reader, store: StoreDep, registry: RegistryDep, ancestry: AncestryDep,
            reports: Annotated[ReportsSetup | None, Depends(get_reports_setup)]) -> PermitsPublic:
    """Every permit in your regions with its year-to-date withdrawal, plan, tier and projection.

    Computed on request; the tiers and the time zone are those of the reports, else the defaults."""
    alarms = (reports.alarms if reports else None) or AlarmsConfig()
    tz = (reports.rates if reports else RatesConfig()).tz
    now = int(time.time() * 1000)
    stations = {s.id: s for s in registry.stations} if registry else {}  # as the registry is now
    out = []
    for p in registry.permits if registry else []:
        if not who.sees(ancestry.get(p.meters[0].station)):
            continue
        out.append(_permit_row(store, registry, p, alarms, tz, now, stations))
    return PermitsPublic.model_validate({"now_ms": now, "permits": out})


def _permit_row(store: SqlStore, registry: Registry, p: Permit, alarms: AlarmsConfig, tz: ZoneInfo, now: int,
                stations: dict) -> dict:
    rule = alarms.for_station(p.id).over_permit
    status = load_status(store, p, now, tz, rule.window_days)  # as the over-permit check computes it
    first = stations.get(p.meters[0].station)
    return {**row(status, alarms, registry.path(first.region) if first else "", tz),
            "stations": [{"station": m.station, "name": getattr(stations.get(m.station), "name", "")} for m in p.meters],
            "region_name": " / ".join(registry.names[r] for r in reversed(registry.ancestry(first.region))) if first else "",
            "last_day": (status.end - dt.timedelta(days=1)).isoformat(),
            "plan": p.plan,
            "tiers": [{"share": t.share, "severity": t.severity} for t in rule.tiers],
            "alarm_enabled": rule.enabled,
            "by_day": [{"day": d.isoformat(), "volume_m3": round(v, 3)} for d, v in sorted(status.by_day.items())]}
