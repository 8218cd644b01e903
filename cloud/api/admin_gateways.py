"""Gateway keys over HTTP: register a gateway, rotate its SM2 key, revoke a key (admins only).

Writes need ``gateways_file`` (cloud/gateways_file.py). Each reads the file as it is on disk,
changes it, validates the result exactly as a loading worker would (model, key files, PEMs), writes
it atomically, then updates the API's own gateway list in place (GET /api/registry/gateways reads
it). Ingest workers, in this process or others (`watertel cloud ingest`), notice the new file
within ``RELOAD_CHECK_S`` (cloud/ingest/registry.py ``GatewaysWatcher``): no restart.

A posted public key is checked to be an SM2 SubjectPublicKeyInfo PEM and written, never
overwritten, to ``gateway-keys/<gateway>/<key id>.pub.pem`` beside the gateways file. Key ids are
never reused within a gateway (current, previous or revoked), so an audit line names one key.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request

from watertel.cloud.api import scope
from watertel.cloud.api.deps import Admin, AncestryDep, FilesDep, GatewaysDep, Principal, RegistryDep
from watertel.cloud.api.registry import gateway_view
from watertel.cloud.api.errors import Problem, not_enabled
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.registry import GatewayPublic, GatewayRegister, KeyRevoke, KeyRotate
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.gateways_file import KEYS_DIR, gateways_of, read_data
from watertel.cloud.registry import Registry
from watertel.cloud.files import write_atomic
from watertel.config import ConfigError
from watertel.crypto import SM2PublicKey

router = APIRouter(prefix="/api/admin/gateways", tags=["admin"], responses=refusals(401, 403, 409, 422))


def check_stations(admin: Principal, registry: Registry | None, stations: list[str]) -> None:
    """Known stations (when there is a registry), all within a scoped admin's regions."""
    where = {s.id: s.region for s in registry.stations} if registry else {}
    if registry is not None and (unknown := [s for s in stations if s not in where]):
        raise Problem(422, "stations.unknown", f"stations: {unknown} are not in the station registry (add them first)",
                      stations=unknown)
    if admin.regions and (registry is None or not all(admin.sees(registry.ancestry(where[s])) for s in stations)):
        raise Problem(403, "gateway.outside", "stations: a gateway with stations outside your regions is not yours to change")


def on_disk(path: Path | None) -> dict[str, Any]:
    if path is None:
        raise not_enabled("gateways", "gateways_file", "gateways are kept in the cloud config's gateways: set"
                          " gateways_file (a YAML file the API writes, the ingest workers reload) to change keys here")
    try:
        data = read_data(path)
        gateways_of(path, data)
    except ConfigError as err:
        raise Problem(409, "file.problems", ["the gateways file has problems; fix it first:", *err.problems], file="gateways",
                      problems=err.problems) from None
    return data


def entry(admin: Principal, registry: Registry | None, data: dict, gid: str) -> dict:
    g = next((g for g in data["gateways"] if g.get("id") == gid), None)
    if g is None:
        raise Problem(404, "gateway.unknown", f"no gateway {gid!r}", gateway=gid)
    check_stations(admin, registry, g.get("stations", []))
    return g


def save(path: Path, data: dict, gid: str, gateways: list[GatewayEntry]) -> GatewayPublic:
    """Validate as a loading worker would, write atomically, then replace the API's gateway list in place."""
    try:
        valid = gateways_of(path, data)
    except ConfigError as err:
        raise Problem(422, "invalid", err.problems, problems=err.problems) from None
    write_atomic(path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200))
    gateways[:] = valid
    return gateway_view(next(g for g in valid if g.id == gid))


@router.post("", status_code=201, responses=refusals(400))
def register(body: GatewayRegister, admin: Admin, request: Request, registry: RegistryDep, gateways: GatewaysDep,
             ancestry: AncestryDep, files: FilesDep) -> GatewayPublic:
    """A new gateway with its stations and first SM2 public key."""
    request.state.audit_summary = f"register gateway {body.id} key {body.key_id}"
    check_stations(admin, registry, body.stations)
    with files.gateways.lock:
        path = files.gateways.path
        data = on_disk(path)
        if any(g.get("id") == body.id for g in data["gateways"]):
            raise Problem(409, "gateway.exists", f"gateway {body.id!r} exists (rotate its key instead)", gateway=body.id)
        data["gateways"].append({"id": body.id, "key_id": body.key_id,
                                 "public_key": _write_key(path, body.id, body.key_id, body.public_key_pem),
                                 "stations": body.stations})
        shown = save(path, data, body.id, gateways)
        scope.refresh(ancestry, registry, gateways)  # its alarms now reach its stations' regions
    request.state.audit_summary += f" (stations {', '.join(body.stations)})"
    return shown


@router.post("/{gid}/rotate", responses=refusals(400, 404))
def rotate(gid: str, body: KeyRotate, admin: Admin, request: Request, registry: RegistryDep, gateways: GatewaysDep,
           files: FilesDep) -> GatewayPublic:
    """A new current key; the old one stays valid for envelopes made before ``old_valid_until``
    (default: now), or is revoked at once with ``revoke_old``."""
    request.state.audit_summary = f"rotate gateway {gid} key to {body.key_id}"
    with files.gateways.lock:
        path = files.gateways.path
        data = on_disk(path)
        g = entry(admin, registry, data, gid)
        _unused(g, body.key_id)
        old = g["key_id"]
        g["public_key"], old_file = _write_key(path, gid, body.key_id, body.public_key_pem), g["public_key"]
        g["key_id"] = body.key_id
        if body.revoke_old:
            g["revoked_keys"] = [*g.get("revoked_keys", []), old]
        else:
            until = body.old_valid_until or dt.datetime.now(dt.timezone.utc)
            g["previous_keys"] = [*g.get("previous_keys", []),
                                  {"key_id": old, "public_key": old_file, "valid_until": until.isoformat()}]
        shown = save(path, data, gid, gateways)
    request.state.audit_summary += (f"; {old} revoked" if body.revoke_old
                                    else f"; {old} valid until {(body.old_valid_until or 'now')}")
    return shown


@router.post("/{gid}/revoke", responses=refusals(400, 404))
def revoke(gid: str, body: KeyRevoke, admin: Admin, request: Request, registry: RegistryDep, gateways: GatewaysDep,
           files: FilesDep) -> GatewayPublic:
    """Refuse a previous key from now on, whenever its envelopes were made (the current key:
    rotate with ``revoke_old`` instead, so the gateway keeps a key)."""
    request.state.audit_summary = f"revoke gateway {gid} key {body.key_id}"
    with files.gateways.lock:
        path = files.gateways.path
        data = on_disk(path)
        g = entry(admin, registry, data, gid)
        if body.key_id == g["key_id"]:
            raise Problem(409, "key.current", f"{body.key_id!r} is the current key: rotate to a new one with revoke_old: true",
                          key=body.key_id)
        if body.key_id in g.get("revoked_keys", []):
            raise Problem(409, "key.revoked", f"key {body.key_id!r} is already revoked", key=body.key_id)
        previous = g.get("previous_keys", [])
        if not any(k.get("key_id") == body.key_id for k in previous):
            raise Problem(404, "key.unknown", f"gateway {gid!r} has no key {body.key_id!r}", gateway=gid, key=body.key_id)
        g["previous_keys"] = [k for k in previous if k.get("key_id") != body.key_id]
        g["revoked_keys"] = [*g.get("revoked_keys", []), body.key_id]
        return save(path, data, gid, gateways)


def _write_key(gateways_file: Path, gid: str, key_id: str, pem: str) -> str:
    """Check the PEM, write it (never over a different key), return its path relative to the file."""
    try:
        SM2PublicKey.from_pem(pem)
    except Exception as err:  # whatever the parser says is wrong, without echoing the text
        raise Problem(422, "key.bad_pem", f"public_key_pem: not an SM2 public key PEM ({err}); send the .pub.pem"
                                          " that `watertel keys new` wrote") from None
    relative = Path(KEYS_DIR) / gid / f"{key_id}.pub.pem"
    path = gateways_file.parent / relative
    text = pem.strip() + "\n"
    if path.exists() and path.read_text(encoding="ascii", errors="replace") != text:
        raise Problem(409, "key.file_exists", f"{relative} exists with another key: choose a new key id", key=key_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        write_atomic(path, text)
    return str(relative)


def _unused(g: dict, key_id: str) -> None:
    used = [g["key_id"], *(k.get("key_id") for k in g.get("previous_keys", [])), *g.get("revoked_keys", [])]
    if key_id in used:
        raise Problem(409, "key.used", f"key id {key_id!r} was already used by gateway {g['id']!r}: choose a new one",
                      key=key_id, gateway=g["id"])
