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
import threading
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field

from watertel.cloud.api.deps import Admin, Principal
from watertel.cloud.api.registry import _keys
from watertel.cloud.gateways import NAME, GatewayEntry
from watertel.cloud.gateways_file import KEYS_DIR, gateways_of, read_data
from watertel.cloud.registry import Registry
from watertel.cloud.files import write_atomic
from watertel.config import ConfigError
from watertel.crypto import SM2PublicKey

PEM = Field(min_length=1, max_length=4096)


class GatewayRegister(BaseModel):
    id: str = Field(pattern=NAME, max_length=64)
    stations: list[str] = Field(min_length=1)
    key_id: str = Field(pattern=NAME, max_length=64)
    public_key_pem: str = PEM


class KeyRotate(BaseModel):
    key_id: str = Field(pattern=NAME, max_length=64)
    public_key_pem: str = PEM
    old_valid_until: AwareDatetime | None = None  # the old key's envelopes made before this still count
    revoke_old: bool = False  # a compromised key: refused at once, whenever its envelopes were made


class KeyRevoke(BaseModel):
    key_id: str = Field(pattern=NAME, max_length=64)


def view(g: GatewayEntry) -> dict:
    """A gateway as GET /api/registry/gateways shows it (key ids and states, no key material)."""
    now = dt.datetime.now(dt.timezone.utc)
    return {"id": g.id, "stations": g.stations, "keys": _keys(g.key_id, g.previous_keys, g.revoked_keys, now),
            "payload_keys": _keys(g.payload_key.key_id if g.payload_key else None, g.previous_payload_keys,
                                  g.retired_payload_keys, now, "retired")}


def gateways_router(gateways: list[GatewayEntry], gateways_file: Path | None, registry: Registry | None) -> APIRouter:
    """``gateways``: the app's gateway list, replaced in place after each write."""
    router = APIRouter(prefix="/api/admin/gateways", tags=["admin"])
    lock = threading.Lock()

    def check_stations(admin: Principal, stations: list[str]) -> None:
        """Known stations (when there is a registry), all within a scoped admin's regions."""
        where = {s.id: s.region for s in registry.stations} if registry else {}
        if registry is not None and (unknown := [s for s in stations if s not in where]):
            raise HTTPException(422, f"stations: {unknown} are not in the station registry (add them first)")
        if admin.regions and (registry is None or not all(admin.sees(registry.ancestry(where[s])) for s in stations)):
            raise HTTPException(403, "stations: a gateway with stations outside your regions is not yours to change")

    def on_disk() -> dict[str, Any]:
        if gateways_file is None:
            raise HTTPException(409, "gateways are kept in the cloud config's gateways: set gateways_file (a YAML"
                                     " file the API writes, the ingest workers reload) to change keys here")
        try:
            data = read_data(gateways_file)
            gateways_of(gateways_file, data)
        except ConfigError as err:
            raise HTTPException(409, ["the gateways file has problems; fix it first:", *err.problems]) from None
        return data

    def entry(admin: Principal, data: dict, gid: str) -> dict:
        g = next((g for g in data["gateways"] if g.get("id") == gid), None)
        if g is None:
            raise HTTPException(404, f"no gateway {gid!r}")
        check_stations(admin, g.get("stations", []))
        return g

    def save(data: dict, gid: str) -> dict:
        try:
            valid = gateways_of(gateways_file, data)
        except ConfigError as err:
            raise HTTPException(422, err.problems) from None
        write_atomic(gateways_file, yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200))
        gateways[:] = valid
        return view(next(g for g in valid if g.id == gid))

    @router.post("", status_code=201, responses={403: {}, 409: {}, 422: {}})
    def register(body: GatewayRegister, admin: Admin, request: Request) -> dict:
        """A new gateway with its stations and first SM2 public key."""
        request.state.audit_summary = f"register gateway {body.id} key {body.key_id}"
        check_stations(admin, body.stations)
        with lock:
            data = on_disk()
            if any(g.get("id") == body.id for g in data["gateways"]):
                raise HTTPException(409, f"gateway {body.id!r} exists (rotate its key instead)")
            data["gateways"].append({"id": body.id, "key_id": body.key_id,
                                     "public_key": _write_key(body.id, body.key_id, body.public_key_pem),
                                     "stations": body.stations})
            shown = save(data, body.id)
        request.state.audit_summary += f" (stations {', '.join(body.stations)})"
        return shown

    @router.post("/{gid}/rotate", responses={403: {}, 404: {}, 409: {}, 422: {}})
    def rotate(gid: str, body: KeyRotate, admin: Admin, request: Request) -> dict:
        """A new current key; the old one stays valid for envelopes made before ``old_valid_until``
        (default: now), or is revoked at once with ``revoke_old``."""
        request.state.audit_summary = f"rotate gateway {gid} key to {body.key_id}"
        with lock:
            data = on_disk()
            g = entry(admin, data, gid)
            _unused(g, body.key_id)
            old = g["key_id"]
            g["public_key"], old_file = _write_key(gid, body.key_id, body.public_key_pem), g["public_key"]
            g["key_id"] = body.key_id
            if body.revoke_old:
                g["revoked_keys"] = [*g.get("revoked_keys", []), old]
            else:
                until = body.old_valid_until or dt.datetime.now(dt.timezone.utc)
                g["previous_keys"] = [*g.get("previous_keys", []),
                                      {"key_id": old, "public_key": old_file, "valid_until": until.isoformat()}]
            shown = save(data, gid)
        request.state.audit_summary += (f"; {old} revoked" if body.revoke_old
                                        else f"; {old} valid until {(body.old_valid_until or 'now')}")
        return shown

    @router.post("/{gid}/revoke", responses={403: {}, 404: {}, 409: {}})
    def revoke(gid: str, body: KeyRevoke, admin: Admin, request: Request) -> dict:
        """Refuse a previous key from now on, whenever its envelopes were made (the current key:
        rotate with ``revoke_old`` instead, so the gateway keeps a key)."""
        request.state.audit_summary = f"revoke gateway {gid} key {body.key_id}"
        with lock:
            data = on_disk()
            g = entry(admin, data, gid)
            if body.key_id == g["key_id"]:
                raise HTTPException(409, f"{body.key_id!r} is the current key: rotate to a new one with revoke_old: true")
            if body.key_id in g.get("revoked_keys", []):
                raise HTTPException(409, f"key {body.key_id!r} is already revoked")
            previous = g.get("previous_keys", [])
            if not any(k.get("key_id") == body.key_id for k in previous):
                raise HTTPException(404, f"gateway {gid!r} has no key {body.key_id!r}")
            g["previous_keys"] = [k for k in previous if k.get("key_id") != body.key_id]
            g["revoked_keys"] = [*g.get("revoked_keys", []), body.key_id]
            return save(data, gid)

    def _write_key(gid: str, key_id: str, pem: str) -> str:
        """Check the PEM, write it (never over a different key), return its path relative to the file."""
        try:
            SM2PublicKey.from_pem(pem)
        except Exception as err:  # whatever the parser says is wrong, without echoing the text
            raise HTTPException(422, f"public_key_pem: not an SM2 public key PEM ({err}); send the .pub.pem"
                                     " that `watertel keys new` wrote") from None
        relative = Path(KEYS_DIR) / gid / f"{key_id}.pub.pem"
        path = gateways_file.parent / relative
        text = pem.strip() + "\n"
        if path.exists() and path.read_text(encoding="ascii", errors="replace") != text:
            raise HTTPException(409, f"{relative} exists with another key: choose a new key id")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            write_atomic(path, text)
        return str(relative)

    return router


def _unused(g: dict, key_id: str) -> None:
    used = [g["key_id"], *(k.get("key_id") for k in g.get("previous_keys", [])), *g.get("revoked_keys", [])]
    if key_id in used:
        raise HTTPException(409, f"key id {key_id!r} was already used by gateway {g['id']!r}: choose a new one")
