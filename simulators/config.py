"""Simulator configuration: which devices, on which transport, with which signals and faults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from watertel.config import Strict


class Signal(Strict):
    """How a point's value moves: ``mean + amplitude·sin(2πt/period) + noise``, or the integral
    of another point (a totaliser of a flow in per-hour units), clipped to the point's range."""

    mean: float = 0.0
    amplitude: float = 0.0
    period_s: float = Field(300.0, gt=0)
    noise: float = Field(0.0, ge=0)
    integrate: str | None = None
    start: float = 0.0  # initial value of an integrated point


class FaultWindow(Strict):
    """Set status ``bit`` for ``for_s`` seconds out of every ``every_s`` (wall clock)."""

    bit: int = Field(ge=0, le=15)
    every_s: float = Field(gt=0)
    for_s: float = Field(gt=0)


class TcpListen(Strict):
    kind: Literal["tcp"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)


class RtuLink(Strict):
    """An RTU bus on a pseudo-terminal pair; the client end appears at ``link`` (a symlink)."""

    kind: Literal["rtu"] = "rtu"
    link: Path
    baudrate: int = Field(9600, gt=0)


class SimDeviceConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    profile: str
    unit_id: int = Field(ge=1, le=247)
    transport: TcpListen | RtuLink = Field(discriminator="kind")
    seed: int = 0
    signals: dict[str, Signal] = {}
    faults: list[FaultWindow] = []


class SimConfig(Strict):
    devices: list[SimDeviceConfig] = Field(min_length=1)
    served_log: Path | None = None  # JSONL of every value served, for reconciliation

    @model_validator(mode="after")
    def _unique(self) -> SimConfig:
        names = [d.name for d in self.devices]
        if len(set(names)) != len(names):
            raise ValueError("device names must be unique")
        units: dict[str, set[int]] = {}
        for d in self.devices:
            bus = f"tcp:{d.transport.host}:{d.transport.port}" if d.transport.kind == "tcp" else f"rtu:{d.transport.link}"
            if d.unit_id in units.setdefault(bus, set()):
                raise ValueError(f"device {d.name!r}: unit id {d.unit_id} is already used on {bus}")
            units[bus].add(d.unit_id)
        return self
