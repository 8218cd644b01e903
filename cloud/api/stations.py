"""The live picture for any reader, within their regions: ``GET /api/stations`` (every station
with its status, last sample, open alarms and latest values), ``GET /api/latest`` (the latest
value of every point) and ``GET /api/summary`` (totals for the console's header), each within
the user's regions.

Status and latest values: cloud/api/series.py (``status_rule``, ``LatestCache``). The station list
works from the registry's stations as the API started (names, kinds, points, and the intervals
that set the online thresholds) until the next start; where a station is (``location``, for the
map) and whether it is in a maintenance window now come from the registry as it is now, so an
admin's edit shows at once.
"""

from __future__ import annotations

import time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request

from watertel.cloud.api.deps import AncestryDep, GatewaysDep, RatesDep, Reader, RegistryDep, StoreDep
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.session import Summary
from watertel.cloud.api.schemas.stations import LatestReading, StationsPublic
from watertel.cloud.api.series import LatestCache, StationStatus
from watertel.cloud.registry import Registry, Station

router = APIRouter(prefix="/api", tags=["stations"], responses=refusals(401, 403))


async def get_latest(request: Request) -> LatestCache:
    """The process's latest values, read once per new envelope (shared with the live events)."""
    return request.app.state.latest


async def get_status(request: Request) -> StationStatus:
    return request.app.state.station_status


async def get_stations_at_start(request: Request) -> dict[str, Station]:
    return request.app.state.stations_at_start


LatestDep = Annotated[LatestCache, Depends(get_latest)]
StatusDep = Annotated[StationStatus, Depends(get_status)]
KnownDep = Annotated[dict[str, Station], Depends(get_stations_at_start)]


@router.get("/latest")
def latest(user: Reader, cache: LatestDep, ancestry: AncestryDep) -> list[LatestReading]:
    """The latest reading of every station and point in your regions."""
    rows = cache.rows()
    if user.regions:
        rows = tuple(r for r in rows if user.sees(ancestry.get(r["station"])))
    return [LatestReading.model_validate(r) for r in rows]


@router.get("/summary")
def summary(user: Reader, store: StoreDep, ancestry: AncestryDep, gateways: GatewaysDep) -> Summary:
    """Totals for the console's header: the whole fleet's, or a region-scoped user's regions' only
    (their stations' readings and alarms, their gateways' envelopes, refusals and alarms)."""
    if not user.regions:
        return Summary.model_validate({**store.counts(), "user": user.username})
    ids = {g.id for g in gateways}
    mine = [s for s, above in ancestry.items() if user.sees(above)]
    counts = store.counts(stations=[s for s in mine if s not in ids], gateways=[s for s in mine if s in ids])
    return Summary.model_validate({**counts, "user": user.username})


@router.get("/stations")
def stations(who: Reader, store: StoreDep, registry: RegistryDep, ancestry: AncestryDep, cache: LatestDep,
             status: StatusDep, known: KnownDep, rates: RatesDep) -> StationsPublic:
    """Every station in your regions with kind, region, status, last seen, open alarms, latest values,
    location and whether it is under maintenance now; ``regions``: the regions they lie in (for a
    filter), provinces first."""
    now = int(time.time() * 1000)
    where = _now_in_registry(registry, now, rates.tz)
    latest = cache.by_station()
    alarms: dict[str, int] = {}
    for a in store.alarms(open_only=True):
        alarms[a["station"]] = alarms.get(a["station"], 0) + 1
    out, seen_regions = [], set()
    for sid in [*known, *sorted(set(latest) - set(known))]:
        chain = ancestry.get(sid)
        if not who.sees(chain):
            continue
        seen_regions.update(chain or ())
        s, points = known.get(sid), list(latest.get(sid, ()))  # a copy: the cache's rows stay as read
        have = {p["point"] for p in points}
        points += [{"point": p, "value": None, "unit": "", "quality": None, "t_ms": None}
                   for p in (s.points if s else []) if p not in have]
        last = max((p["t_ms"] for p in points if p["t_ms"] is not None), default=None)
        out.append({"station": sid, "name": s.name if s else "", "kind": s.kind.value if s else "other",
                    "region": s.region if s else None, "regions": chain or [],
                    "region_path": " / ".join(registry.names[r] for r in reversed(chain)) if chain else "",
                    "interval_ms": s.interval_ms if s else None, "last_seen_ms": last,
                    "status": status(sid, last, now), "open_alarms": alarms.get(sid, 0), "points": points,
                    **where.get(sid, {"location": None, "maintenance": False})})
    regions = [{"id": r, "name": registry.names[r], "level": registry.levels[r]}
               for r in registry.regions() if r in seen_regions] if registry else []
    return StationsPublic.model_validate({"now_ms": now, "regions": regions, "stations": out})


def _now_in_registry(registry: Registry | None, now: int, tz: ZoneInfo) -> dict[str, dict]:
    """Per station of the registry as it is now: its location and whether a maintenance window holds ``now``."""
    if registry is None:
        return {}
    return {s.id: {"location": s.location and s.location.model_dump(),
                   "maintenance": any(a <= now < b for a, b in (w.bounds_ms(tz) for w in s.maintenance))}
            for s in registry.stations}
