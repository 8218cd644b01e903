"""One device from a profile, without a config file: `watertel sim run --profile FILE`.

A vendor testing a register map wants the device up with one command, driven by the site
physics that fits its kind (a flow meter sees the diurnal demand, a pump runs on schedule).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from watertel import firmware_profiles
from watertel.errors import OperatorError
from watertel.ports import host_port
from watertel.simulators.config import ModelKind, SimConfig

DEFAULT_MODEL = {"flow_meter": ModelKind.INLET, "pressure": ModelKind.PRESSURE, "water_quality": ModelKind.WATER_QUALITY,
                 "pump": ModelKind.PUMP, "level": ModelKind.LEVEL, "energy_meter": ModelKind.ENERGY}


def default_link() -> Path:
    """Where the client end of the pty appears when no ``--link`` is given."""
    return Path(tempfile.gettempdir()) / f"watertel-sim-{os.getpid()}" / "ttySIM0"


def profile_config(profile: str, *, tcp: str | None, link: Path | None, unit: int | None, seed: int,
                   model: str | None = None, tick_s: float = 1.0, served_log: Path | None = None,
                   truth_log: Path | None = None) -> SimConfig:
    """A SimConfig serving ``profile`` alone, over TCP (``HOST:PORT``) or RTU on a pty.

    Raises ConfigError for a bad profile (file:line: key: problem (fix)) and ValueError for a
    bad ``HOST:PORT``."""
    if unit is not None and not 1 <= unit <= 247:
        raise OperatorError(f"--unit must be 1..247 (got {unit})")
    loaded = firmware_profiles.load(profile)
    name = Path(profile).stem
    if tcp is not None:
        host, port = host_port(tcp, "--tcp")
        transport = {"kind": "tcp", "host": host, "port": port}
    else:
        transport = {"kind": "rtu", "link": str(link or default_link()), "baudrate": loaded.transport.baudrate}
    kind = model or DEFAULT_MODEL.get(loaded.kind)
    device = {"name": name, "profile": str(profile), "unit_id": unit or loaded.transport.unit_id,
              "transport": transport, "seed": seed}
    if kind is not None:
        device["model"] = {"kind": kind, "tick_s": tick_s}
    return SimConfig.model_validate({"devices": [device], "served_log": served_log, "truth_log": truth_log})
