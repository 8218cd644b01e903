"""The station registry over HTTP: ``/api/registry``.

Readers get regions, stations (with the permit their meter counts towards) and permits within
their regions; admins replace or delete one station (its points, interval, maintenance windows,
permit and plan) and see the gateways with their key ids and states (never a key).

A write is validated exactly like the registry file (the same models and cross-checks, through
``cloud.registry.build_registry``) against the file as it is on disk now, then written atomically
(temp file, fsync, rename, previous kept as ``.bak``), then the running API's registry is updated
**in place**: the ``Registry`` object (shared with the rates, reports and, in `watertel cloud run`,
the alarm engine) and the station → regions map every scope check reads. The station list's
online thresholds (cloud/api/series.py) keep the intervals they started with until the next start.
Writing rewrites the file in canonical form (comments are not kept; the ``.bak`` has them).

Gateway keys are only listed here (``GET /api/registry/gateways``); they are registered, rotated
and revoked through cloud/api/admin_gateways.py when the cloud config names a ``gateways_file``
(ingest workers pick a change up within seconds), or by editing the config's ``gateways:``.
"""


from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Body, Request

from watertel.cloud.api.deps import Admin, AncestryDep, FilesDep, GatewaysDep, Principal, Reader, RegistryDep
from watertel.cloud.api.errors import Problem, not_enabled
from watertel.cloud.api.registry_edit import (MISSING, check_permit_scope, on_disk, permit_of, save_registry,
                                              with_permit)
from watertel.cloud.api.schemas import Deleted, refusals
from watertel.cloud.api.schemas.registry import GatewayPublic, KeyPublic, RegionPublic, RegistryPublic, StationPublic
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.permits import Permit
from watertel.cloud.registry import Registry

router = APIRouter(prefix="/api/registry", tags=["registry"], responses=refusals(401, 403))


def current(registry: Registry | None) -> Registry:
    if registry is None:
        raise not_enabled("registry", "registry_file", "no station registry: set registry_file in the cloud config",
                          read_only=False)
    return registry


def visible(user: Principal, reg: Registry, region: str) -> bool:
    return region in reg.names and user.sees(reg.ancestry(region))


def station_view(reg: Registry, sid: str) -> StationPublic:
    s = next(s for s in reg.stations if s.id == sid)
    return StationPublic(**dict(s), region_path=reg.path(s.region), permit=permit_of(reg, sid))


def scoped_station(user: Principal, reg: Registry, sid: str) -> StationPublic:
    s = next((s for s in reg.stations if s.id == sid), None)
    if s is None or not user.sees(reg.ancestry(s.region)):
        raise Problem(404, "station.unknown", f"no station {sid!r}", station=sid)
    return station_view(reg, sid)


def regions_of(user: Principal, reg: Registry) -> list[RegionPublic]:
    return [RegionPublic(id=r, name=reg.names[r], level=reg.levels[r], parent=reg.parent[r])
            for r in reg.regions() if user.sees(reg.ancestry(r))]


def permits_of(user: Principal, reg: Registry) -> list[Permit]:
    where = {s.id: s.region for s in reg.stations}
    return [p for p in reg.permits if any(user.sees(reg.ancestry(where[m.station])) for m in p.meters)]


def stations_of(user: Principal, reg: Registry) -> list[StationPublic]:
    return [station_view(reg, s.id) for s in reg.stations if user.sees(reg.ancestry(s.region))]


def gateway_view(g: GatewayEntry, now: dt.datetime | None = None) -> GatewayPublic:
    """A gateway's key ids and key states (no key material, no file paths)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return GatewayPublic(id=g.id, stations=g.stations, keys=_keys(g.key_id, g.previous_keys, g.revoked_keys, now),
                         payload_keys=_keys(g.payload_key.key_id if g.payload_key else None, g.previous_payload_keys,
                                            g.retired_payload_keys, now, "retired"))


@router.get("", responses=refusals(409))
def whole(user: Reader, registry: RegistryDep) -> RegistryPublic:
    """Regions, stations and permits within your regions."""
    reg = current(registry)
    return RegistryPublic(regions=regions_of(user, reg), permits=permits_of(user, reg), stations=stations_of(user, reg))


@router.get("/regions", responses=refusals(409))
def regions(user: Reader, registry: RegistryDep) -> list[RegionPublic]:
    """Regions (province → city → county) within your regions, each with its level and parent."""
    return regions_of(user, current(registry))


@router.get("/stations", responses=refusals(409))
def stations(user: Reader, registry: RegistryDep) -> list[StationPublic]:
    return stations_of(user, current(registry))


@router.get("/stations/{sid}", responses=refusals(404, 409))
def station(sid: str, user: Reader, registry: RegistryDep) -> StationPublic:
    return scoped_station(user, current(registry), sid)


@router.put("/stations/{sid}", responses=refusals(400, 409, 422))
def put_station(sid: str, user: Admin, request: Request, registry: RegistryDep, ancestry: AncestryDep,
                gateways: GatewaysDep, files: FilesDep, body: dict[str, Any] = Body(...)) -> StationPublic:
    """Add or replace a station: its fields as in the registry file, and optionally ``permit``:
    the whole permit its meter counts towards (added or replaced by id), or null for none.
    What GET answers may be sent back as it is (``interval_ms`` and ``region_path`` are ignored)."""
    request.state.audit_summary = f"put station {sid}"
    body = {k: v for k, v in body.items() if k not in ("interval_ms", "region_path")}
    permit = body.pop("permit", MISSING)
    if permit is not MISSING and permit is not None and not isinstance(permit, dict):
        raise Problem(422, "permit.mapping", "permit: write a mapping of keys (or null for no permit)")
    if body.setdefault("id", sid) != sid:
        raise Problem(422, "id.mismatch", f"id: {body['id']!r} differs from the station in the path ({sid!r})",
                      id=str(body["id"]), path=sid)
    with files.registry.lock:
        reg = current(registry)
        data, old = on_disk(files.registry.path, sid)
        _check_scope(user, reg, old, body.get("region"))
        if old is None:
            data["stations"].append(body)
        else:
            data["stations"] = [body if s["id"] == sid else s for s in data["stations"]]
        if permit is not MISSING:
            check_permit_scope(user, permit, data, lambda region: visible(user, reg, region))
            data["permits"] = with_permit(data["permits"], sid, permit)
        permit_before = permit_of(reg, sid)
        new = save_registry(files.registry.path, data, sid, reg, ancestry, gateways)
    now = next(s for s in new.stations if s.id == sid).model_dump(mode="json")
    before = old.model_dump(mode="json") if old else {}
    changed = [k for k in now if k != "id" and now[k] != before.get(k)]
    permit_now = permit_of(new, sid)
    request.state.audit_summary = (f"{'update' if old else 'add'} station {sid}"
                                   + (f" ({', '.join(changed) or 'no change'})" if old else "")
                                   + (f"; permit {permit_now.id if permit_now else 'none'}"
                                      if permit_now != permit_before else ""))
    return scoped_station(user, reg, sid)


@router.delete("/stations/{sid}", responses=refusals(404, 409, 422))
def delete_station(sid: str, user: Admin, request: Request, registry: RegistryDep, ancestry: AncestryDep,
                   gateways: GatewaysDep, files: FilesDep) -> Deleted:
    """Remove a station; its meters leave their permits (a permit left without one goes too)."""
    request.state.audit_summary = f"delete station {sid}"
    with files.registry.lock:
        reg = current(registry)
        data, old = on_disk(files.registry.path, sid)
        if old is None:
            raise Problem(404, "station.unknown", f"no station {sid!r}", station=sid)
        _check_scope(user, reg, old, None)
        data["stations"] = [s for s in data["stations"] if s["id"] != sid]
        data["permits"] = with_permit(data["permits"], sid, None)
        save_registry(files.registry.path, data, sid, reg, ancestry, gateways)
    return Deleted(deleted=sid)


@router.get("/gateways")
def list_gateways(user: Admin, registry: RegistryDep, gateways: GatewaysDep) -> list[GatewayPublic]:
    """Gateways with their stations, key ids and key states (no key material, no file paths)."""
    now = dt.datetime.now(dt.timezone.utc)
    where = {s.id: s.region for s in registry.stations} if registry else {}
    return [gateway_view(g, now) for g in gateways if not user.regions
            or any(s in where and user.sees(registry.ancestry(where[s])) for s in g.stations)]


def _check_scope(user: Principal, reg: Registry, old: Any, region: Any) -> None:
    """Writes within your regions only (403): the station where it is, and where it goes."""
    if old is not None and not visible(user, reg, old.region):
        raise Problem(403, "station.outside", f"station {old.id!r} is outside your regions", station=old.id)
    if isinstance(region, str) and region in reg.names and not visible(user, reg, region):
        raise Problem(403, "region.outside", f"region {region!r} is outside your regions", region=region)


def _keys(current: str | None, previous: list, revoked: list[str], now: dt.datetime, gone: str = "revoked") -> list[KeyPublic]:
    keys = [KeyPublic(key_id=current, state="current", valid_until=None)] if current else []
    keys += [KeyPublic(key_id=k.key_id, state="previous" if k.valid_until > now else "expired",
                       valid_until=k.valid_until.isoformat()) for k in previous]
    return keys + [KeyPublic(key_id=k, state=gone, valid_until=None) for k in revoked]  # type: ignore[arg-type]
