"""Editing the station registry file for ``PUT``/``DELETE /api/registry/stations/{sid}``
(cloud/api/registry.py): read it as it is on disk, put a station and its permit in or take them
out, validate like the file, write it atomically, then update the running registry in place.

Problems are named by station rather than by list index (``station ST-1: interval_minutes: …``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


from watertel.cloud.api.errors import Problem, not_enabled
from watertel.cloud.api import scope
from watertel.cloud.api.deps import AncestryMap, Principal
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.files import write_atomic
from watertel.cloud.permits import Permit
from watertel.cloud.registry import Registry, Station, build_registry, load_registry
from watertel.cloud.registry_io import dump_yaml, file_model
from watertel.config import ConfigError

MISSING = object()  # a body without ``permit``: the station's permit stays as it is


def permit_of(reg: Registry, sid: str) -> Permit | None:
    """The permit the station's meter counts towards (None: none)."""
    return next((p for p in reg.permits if any(m.station == sid for m in p.meters)), None)


def on_disk(path: Path | None, sid: str) -> tuple[dict, Station | None]:
    """The registry file as it is now (another process may have imported one) and the station in it."""
    if path is None:
        raise not_enabled("registry", "registry_file", "the registry was not loaded from a file: set registry_file in"
                          " the cloud config")
    try:
        model = file_model(load_registry(path))
    except ConfigError as err:
        raise Problem(409, "file.problems", ["the registry file has problems; fix it first:", *err.problems],
                      file="registry", problems=err.problems) from None
    data = model.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("stations", [])
    data.setdefault("permits", [])
    return data, next((s for s in model.stations if s.id == sid), None)


def save_registry(path: Path, data: dict, sid: str, reg: Registry, ancestry: AncestryMap,
                  gateways: list[GatewayEntry]) -> Registry:
    """Validate like the file, write atomically, then update the running registry (``reg``, the
    object the rates, reports and alarms hold) and the station (and gateway) → regions map in place."""
    try:
        new = build_registry(path.name, data)
    except ConfigError as err:
        problems = [_named(p, path.name, data, sid) for p in err.problems]
        raise Problem(422, "invalid", problems, problems=problems) from None
    write_atomic(path, dump_yaml(file_model(new)))
    reg.__dict__.update(new.__dict__)
    scope.refresh(ancestry, new, gateways)
    return new


def _named(problem: str, name: str, data: dict, sid: str) -> str:
    """``registry.yaml: stations.7.interval_minutes: …`` → ``station ST-1: interval_minutes: …``."""
    for i, s in enumerate(data["stations"]):
        if s.get("id") == sid:
            problem = problem.replace(f"{name}: stations.{i}.", f"station {sid}: ").replace(f"{name}: stations.{i}:", f"station {sid}:")
    return problem


def with_permit(permits: list[dict], sid: str, permit: dict | None) -> list[dict]:
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


def check_permit_scope(user: Principal, permit: Any, data: dict, visible: Callable[[str], bool]) -> None:
    """A scoped admin may not name, in a permit, a station outside their regions (``visible``: a region is theirs)."""
    if permit is None or not user.regions:
        return
    if not isinstance(permit, dict):
        raise Problem(422, "permit.mapping", "permit: write a mapping of keys or null")
    where = {s["id"]: s["region"] for s in data["stations"]}
    replaced = next((p for p in data["permits"] if p["id"] == permit.get("id")), {})
    for m in [*permit.get("meters", []), *replaced.get("meters", [])]:
        station = m if isinstance(m, str) else m.get("station") if isinstance(m, dict) else None
        if station in where and not visible(where[station]):
            raise Problem(403, "station.outside", f"permit meter {station!r} is outside your regions", station=station)
