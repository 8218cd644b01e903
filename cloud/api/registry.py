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
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request

from watertel.cloud.api.deps import Admin, Principal, Reader
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.registry import Registry, build_registry, load_registry
from watertel.cloud.files import write_atomic
from watertel.cloud.registry_io import dump_yaml, file_model
from watertel.config import ConfigError

MISSING = object()


def registry_router(registry: Registry | None, registry_file: Path | None, ancestry: dict[str, list[str]],
                    gateways: list[GatewayEntry]) -> APIRouter:
    """The routes; ``ancestry`` is the app's station → [county, city, province] map, updated in place."""
    router = APIRouter(prefix="/api/registry", tags=["registry"])
    lock = threading.Lock()  # one write at a time: each reads the file, changes it, writes it

    def current() -> Registry:
        if registry is None:
            raise HTTPException(409, "no station registry: set registry_file in the cloud config")
        return registry

    def visible(user: Principal, region: str) -> bool:
        reg = current()
        return region in reg.names and user.sees(reg.ancestry(region))

    def station_view(reg: Registry, sid: str) -> dict:
        s = next(s for s in reg.stations if s.id == sid)
        permit = _permit_of(reg, sid)
        return {**s.model_dump(mode="json"), "interval_ms": s.interval_ms, "region_path": reg.path(s.region),
                "permit": permit.model_dump(mode="json") if permit else None}

    def scoped_station(user: Principal, sid: str) -> dict:
        reg = current()
        s = next((s for s in reg.stations if s.id == sid), None)
        if s is None or not user.sees(reg.ancestry(s.region)):
            raise HTTPException(404, f"no station {sid!r}")
        return station_view(reg, sid)

    def regions_of(user: Principal) -> list[dict]:
        reg = current()
        return [{"id": r, "name": reg.names[r], "level": reg.levels[r], "parent": reg.parent[r]}
                for r in reg.regions() if user.sees(reg.ancestry(r))]

    def permits_of(user: Principal) -> list[dict]:
        reg = current()
        where = {s.id: s.region for s in reg.stations}
        return [p.model_dump(mode="json") for p in reg.permits
                if any(user.sees(reg.ancestry(where[m.station])) for m in p.meters)]

    @router.get("")
    def whole(user: Reader) -> dict:
        """Regions, stations and permits within your regions."""
        reg = current()
        return {"regions": regions_of(user), "permits": permits_of(user),
                "stations": [station_view(reg, s.id) for s in reg.stations if user.sees(reg.ancestry(s.region))]}

    @router.get("/regions")
    def regions(user: Reader) -> list[dict]:
        """Regions (province → city → county) within your regions, each with its level and parent."""
        return regions_of(user)

    @router.get("/stations")
    def stations(user: Reader) -> list[dict]:
        reg = current()
        return [station_view(reg, s.id) for s in reg.stations if user.sees(reg.ancestry(s.region))]

    @router.get("/stations/{sid}", responses={404: {}})
    def station(sid: str, user: Reader) -> dict:
        return scoped_station(user, sid)

    @router.put("/stations/{sid}", responses={403: {}, 409: {}, 422: {}})
    def put_station(sid: str, user: Admin, request: Request, body: dict[str, Any] = Body(...)) -> dict:
        """Add or replace a station: its fields as in the registry file, and optionally ``permit``:
        the whole permit its meter counts towards (added or replaced by id), or null for none.
        What GET answers may be sent back as it is (``interval_ms`` and ``region_path`` are ignored)."""
        request.state.audit_summary = f"put station {sid}"
        body = {k: v for k, v in body.items() if k not in ("interval_ms", "region_path")}
        permit = body.pop("permit", MISSING)
        if permit is not MISSING and permit is not None and not isinstance(permit, dict):
            raise HTTPException(422, "permit: write a mapping of keys (or null for no permit)")
        if body.setdefault("id", sid) != sid:
            raise HTTPException(422, f"id: {body['id']!r} differs from the station in the path ({sid!r})")
        with lock:
            data, old = _on_disk(registry_file, sid)
            _check_scope(user, old, body.get("region"))
            if old is None:
                data["stations"].append(body)
            else:
                data["stations"] = [body if s["id"] == sid else s for s in data["stations"]]
            if permit is not MISSING:
                _check_permit_scope(user, permit, data, visible)
                data["permits"] = _with_permit(data["permits"], sid, permit)
            permit_before = _permit_of(current(), sid)
            new = _save(registry_file, data, sid)
        now = next(s for s in new.stations if s.id == sid).model_dump(mode="json")
        before = old.model_dump(mode="json") if old else {}
        changed = [k for k in now if k != "id" and now[k] != before.get(k)]
        permit_now = _permit_of(new, sid)
        request.state.audit_summary = (f"{'update' if old else 'add'} station {sid}"
                                       + (f" ({', '.join(changed) or 'no change'})" if old else "")
                                       + (f"; permit {permit_now.id if permit_now else 'none'}"
                                          if permit_now != permit_before else ""))
        return scoped_station(user, sid)

    @router.delete("/stations/{sid}", responses={403: {}, 404: {}, 409: {}})
    def delete_station(sid: str, user: Admin, request: Request) -> dict:
        """Remove a station; its meters leave their permits (a permit left without one goes too)."""
        request.state.audit_summary = f"delete station {sid}"
        with lock:
            data, old = _on_disk(registry_file, sid)
            if old is None:
                raise HTTPException(404, f"no station {sid!r}")
            _check_scope(user, old, None)
            data["stations"] = [s for s in data["stations"] if s["id"] != sid]
            data["permits"] = _with_permit(data["permits"], sid, None)
            _save(registry_file, data, sid)
        return {"deleted": sid}

    def _check_scope(user: Principal, old: Any, region: Any) -> None:
        """Writes within your regions only (403): the station where it is, and where it goes."""
        if old is not None and not visible(user, old.region):
            raise HTTPException(403, f"station {old.id!r} is outside your regions")
        if isinstance(region, str) and region in current().names and not visible(user, region):
            raise HTTPException(403, f"region {region!r} is outside your regions")

    @router.get("/gateways")
    def list_gateways(user: Admin) -> list[dict]:
        """Gateways with their stations, key ids and key states (no key material, no file paths)."""
        now = dt.datetime.now(dt.timezone.utc)
        where = {s.id: s.region for s in registry.stations} if registry else {}
        out = []
        for g in gateways:
            if user.regions and not any(s in where and user.sees(registry.ancestry(where[s])) for s in g.stations):
                continue
            out.append({"id": g.id, "stations": g.stations,
                        "keys": _keys(g.key_id, g.previous_keys, g.revoked_keys, now),
                        "payload_keys": _keys(g.payload_key.key_id if g.payload_key else None,
                                              g.previous_payload_keys, g.retired_payload_keys, now, "retired")})
        return out

    def _save(path: Path, data: dict, sid: str) -> Registry:
        """Validate like the file, write atomically, then update the running registry in place."""
        try:
            new = build_registry(path.name, data)
        except ConfigError as err:
            raise HTTPException(422, [_named(p, path.name, data, sid) for p in err.problems]) from None
        write_atomic(path, dump_yaml(file_model(new)))
        current().__dict__.update(new.__dict__)  # one update: the object the rates, reports and alarms hold
        fresh = {s.id: new.ancestry(s.region) for s in new.stations}
        ancestry.update(fresh)
        for gone in set(ancestry) - set(fresh):
            ancestry.pop(gone, None)
        return new

    def _on_disk(path: Path | None, sid: str) -> tuple[dict, Any]:
        """The registry file as it is now (another process may have imported one) and the station in it."""
        current()
        if path is None:
            raise HTTPException(409, "the registry was not loaded from a file: set registry_file in the cloud config")
        try:
            model = file_model(load_registry(path))
        except ConfigError as err:
            raise HTTPException(409, ["the registry file has problems; fix it first:", *err.problems]) from None
        data = model.model_dump(mode="json", exclude_defaults=True)
        data.setdefault("stations", [])
        data.setdefault("permits", [])
        return data, next((s for s in model.stations if s.id == sid), None)

    return router


def _permit_of(reg: Registry, sid: str) -> Any:
    return next((p for p in reg.permits if any(m.station == sid for m in p.meters)), None)


def _named(problem: str, name: str, data: dict, sid: str) -> str:
    """``registry.yaml: stations.7.interval_minutes: …`` → ``station ST-1: interval_minutes: …``."""
    for i, s in enumerate(data["stations"]):
        if s.get("id") == sid:
            problem = problem.replace(f"{name}: stations.{i}.", f"station {sid}: ").replace(f"{name}: stations.{i}:", f"station {sid}:")
    return problem


def _with_permit(permits: list[dict], sid: str, permit: dict | None) -> list[dict]:
    """The permits with ``sid``'s meters taken out of the others, and ``permit`` put in by id (None:
    no permit for this station); a permit left without a meter is dropped."""
    out = []
    for p in permits:
        if permit is not None and p["id"] == permit.get("id"):
            continue
        meters = [m for m in p.get("meters", []) if (m if isinstance(m, str) else m.get("station")) != sid]
        if meters:
            out.append({**p, "meters": meters})
    if permit is not None:
        out.append(permit)
    return out


def _check_permit_scope(user: Principal, permit: Any, data: dict, visible) -> None:
    """A scoped admin may not name, in a permit, a station outside their regions."""
    if permit is None or not user.regions:
        return
    if not isinstance(permit, dict):
        raise HTTPException(422, "permit: write a mapping of keys or null")
    where = {s["id"]: s["region"] for s in data["stations"]}
    replaced = next((p for p in data["permits"] if p["id"] == permit.get("id")), {})
    for m in [*permit.get("meters", []), *replaced.get("meters", [])]:
        station = m if isinstance(m, str) else m.get("station") if isinstance(m, dict) else None
        if station in where and not visible(user, where[station]):
            raise HTTPException(403, f"permit meter {station!r} is outside your regions")


def _keys(current: str | None, previous: list, revoked: list[str], now: dt.datetime, gone: str = "revoked") -> list[dict]:
    keys = [{"key_id": current, "state": "current", "valid_until": None}] if current else []
    keys += [{"key_id": k.key_id, "state": "previous" if k.valid_until > now else "expired",
              "valid_until": k.valid_until.isoformat()} for k in previous]
    return keys + [{"key_id": k, "state": gone, "valid_until": None} for k in revoked]
