"""The gateway fleet in the console: ``GET /api/fleet`` (operators and admins).

Each registered gateway's line of the fleet view (cloud/gateway_status.py, as `watertel cloud fleet`
prints it: agent version, config hash, clock offset, buffer depth, last contact) plus one word
for the console, ``status``:

- ``offline``: its last word was the MQTT will (the broker saw it go);
- ``stopped``: its last word was a planned stop (signed ``stopped``: no alarm, nothing wrong);
- ``stale``: nothing heard for ``stale_after_s`` (a gateway that lost power sends no will
  until the broker's keep-alive runs out, and a silent one must stand out either way);
- ``online``: heard from within ``stale_after_s``;
- ``never``: nothing heard since the ingest started keeping the fleet files.

A region-scoped user sees the gateways that serve at least one station in their regions: they
depend on it, even if it also serves a neighbour's stations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request

from watertel.cloud.api.deps import AncestryDep, Writer
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.fleet import FleetPublic
from watertel.cloud.gateway_status import GatewayStatus

if TYPE_CHECKING:
    from watertel.cloud.config import CloudConfig

STALE_AFTER_S = 300.0  # five status periods of the agent's default (uplink.status_every_s: 60)


@dataclass(frozen=True)
class FleetSetup:
    """Where the ingest keeps the fleet files, and which stations each registered gateway serves."""

    folder: Path  # <data_dir>/fleet
    gateways: dict[str, list[str]]  # gateway id -> its stations
    stale_after_s: float = STALE_AFTER_S

    @classmethod
    def of(cls, cfg: CloudConfig) -> FleetSetup:
        """From a ``CloudConfig``: its data folder and its gateways."""
        return cls(cfg.data_dir / "fleet", {g.id: list(g.stations) for g in cfg.gateways})


def status_word(row: dict[str, Any], now_ms: int, stale_after_s: float) -> str:
    """online | stale | offline | stopped | never, for one fleet row (see the module doc)."""
    last = row["last_contact_ms"]
    if last is None:
        return "never"
    if row["state"] in ("offline", "stopped"):
        return row["state"]
    return "stale" if now_ms - last > stale_after_s * 1000 else "online"


async def get_fleet_setup(request: Request) -> FleetSetup:
    return request.app.state.fleet


router = APIRouter(prefix="/api", tags=["fleet"], responses=refusals(401, 403))


@router.get("/fleet")
def gateways(who: Writer, ancestry: AncestryDep, setup: Annotated[FleetSetup, Depends(get_fleet_setup)]) -> FleetPublic:
    """Every gateway you may see, sorted by id, with its status and when it was last heard from."""
    now = int(time.time() * 1000)
    fleet = GatewayStatus(setup.folder)
    out = []
    for gateway, stations in sorted(setup.gateways.items()):
        if not any(who.sees(ancestry.get(s)) for s in stations):
            continue
        r = fleet.row(gateway)
        out.append({**r, "stations": stations, "status": status_word(r, now, setup.stale_after_s)})
    return FleetPublic.model_validate({"now_ms": now, "stale_after_s": setup.stale_after_s, "gateways": out})
