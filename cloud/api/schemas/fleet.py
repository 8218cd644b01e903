"""The gateway fleet: each gateway's line of the fleet view (cloud/gateway_status.py
``GatewayStatus.row``).

Everything but ``gateway``, ``stations`` and ``status`` comes from the gateway's own (unsigned)
status messages and is null until one arrived."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FleetGateway(BaseModel):
    gateway: str
    state: str | None = Field(description="online or offline, as the gateway last said")
    version: str | None
    config_sm3: str | None
    clock_offset_ms: int | float | None
    clock_offset_source: Literal["check_clock", "status"] | None
    clock_synchronised: bool | None
    buffer_unsealed: int | None
    buffer_batches_pending: int | None
    buffer_bytes: int | None
    conditions: list[str]
    last_config_change: str | None = Field(description='"STATE (COMMAND ID)"')
    last_contact_ms: int | None
    status_received_ms: int | None
    stations: list[str]
    status: Literal["online", "stale", "offline", "stopped", "never"]


class FleetPublic(BaseModel):
    now_ms: int
    stale_after_s: float
    gateways: list[FleetGateway]
