"""Simulator configuration: which devices, on which transport, with which signals and faults."""

from __future__ import annotations

from enum import StrEnum
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
    """Set status ``bit`` for ``for_s`` seconds out of every ``every_s``: on the clock's grid
    (multiples of ``every_s``), or from ``first_at_s`` after the run starts (an analyser's
    calibration cycle, first a little after it is switched on)."""

    bit: int = Field(ge=0, le=15)
    every_s: float = Field(gt=0)
    for_s: float = Field(gt=0)
    first_at_s: float | None = Field(None, ge=0)

    def open(self, t: float, start: float) -> bool:
        """Whether the window is open at simulated time ``t`` of a run that started at ``start``."""
        if self.first_at_s is None:
            return t % self.every_s < self.for_s
        since = t - start - self.first_at_s
        return since >= 0 and since % self.every_s < self.for_s


class TcpListen(Strict):
    kind: Literal["tcp"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)


class RtuLink(Strict):
    """An RTU bus on a pseudo-terminal pair; the client end appears at ``link`` (a symlink)."""

    kind: Literal["rtu"] = "rtu"
    link: Path
    baudrate: int = Field(9600, gt=0)


class PumpWindow(Strict):
    """The pumps run from ``start`` to ``stop`` (local hours, 0-24; stop < start spans midnight)."""

    start: float = Field(ge=0, le=24)
    stop: float = Field(ge=0, le=24)

    def covers(self, hour: float) -> bool:
        if self.start <= self.stop:
            return self.start <= hour < self.stop
        return hour >= self.start or hour < self.stop


class SiteConfig(Strict):
    """The network every physics-driven device of a run belongs to: one demand, one set of
    pumps, so a leak raises the inlet flow and lowers the pressure at the same moment."""

    utc_offset_h: float = Field(8.0, ge=-12, le=14)  # local time of the demand curve (China: +8)
    mean_demand: float = Field(120.0, gt=0)  # m³/h, day average of the district's inlet flow
    night_factor: float = Field(0.35, gt=0, lt=1)  # night minimum ÷ day average
    day_variation: float = Field(0.05, ge=0, lt=0.5)  # ± share by which a day's demand differs (seeded)
    seed: int = 0  # seeds the day-to-day variation, shared by every device of the site
    pipe_diameter_m: float = Field(0.3, gt=0)  # inlet main (velocity = flow ÷ area)
    pumps: list[PumpWindow] = [PumpWindow(start=5, stop=23)]
    pump_flow: float = Field(150.0, gt=0)  # m³/h of the well pump while it runs
    pump_kw: float = Field(22.0, gt=0)  # electrical power at 50 Hz
    static_pressure: float = Field(0.55, gt=0)  # MPa at zero flow
    headloss: float = Field(0.08, ge=0)  # MPa lost at the mean demand (∝ flow²)
    chlorine_dose: float = Field(0.8, ge=0)  # mg/L leaving the plant
    chlorine_decay_per_h: float = Field(0.12, ge=0)  # first-order bulk decay
    network_volume: float = Field(600.0, gt=0)  # m³ between plant and the monitoring points
    water_temperature: float = 16.0  # degC, day average
    static_level: float = Field(60.0, gt=0)  # m of water column above the level sensor at rest
    well_depth: float = Field(120.0, gt=0)  # m from the well head to the sensor
    drawdown: float = Field(8.0, ge=0)  # m the level falls while the pump runs
    drawdown_tau_s: float = Field(1800.0, gt=0)  # time constant of drawdown and recovery


class ModelKind(StrEnum):
    """Which part of the site a physics-driven device measures."""

    INLET = "inlet"  # flow meter at a district inlet: diurnal demand plus leaks
    WELL = "well"  # flow meter on a well pump: pump flow while it runs
    PRESSURE = "pressure"  # network pressure, falling with the square of the demand
    WATER_QUALITY = "water_quality"  # chlorine decaying with water age, turbidity, pH, …
    PUMP = "pump"  # the well pump's drive
    LEVEL = "level"  # well water level, drawn down while pumping
    ENERGY = "energy"  # the pump house's energy meter


class ModelConfig(Strict):
    """A device driven by the site's physics instead of free-running signals."""

    kind: ModelKind
    tick_s: float = Field(1.0, gt=0, le=3600)  # simulated seconds between state updates
    noise: dict[str, float] = {}  # point → standard deviation of the sensor noise
    noise_share: float = Field(0.002, ge=0, lt=1)  # default noise: this share of the point's range
    constants: dict[str, float] = {}  # point → fixed value (fault codes, setpoints, versions)
    integrate: dict[str, str] = {}  # totaliser point → the point (or site quantity) it integrates
    totals: dict[str, float] = {}  # totaliser point → its reading at the start


class SimDeviceConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    profile: str
    unit_id: int = Field(ge=1, le=247)
    transport: TcpListen | RtuLink = Field(discriminator="kind")
    seed: int = 0
    signals: dict[str, Signal] = {}
    faults: list[FaultWindow] = []
    model: ModelConfig | None = None  # physics instead of signals (points without a binding keep signals)

    @model_validator(mode="after")
    def _one_driver(self) -> SimDeviceConfig:
        if self.model is not None and self.signals:
            raise ValueError("give either model or signals, not both (remove one)")
        return self


class SimConfig(Strict):
    devices: list[SimDeviceConfig] = Field(min_length=1)
    served_log: Path | None = None  # JSONL of every value served, for reconciliation
    truth_log: Path | None = None  # JSONL of every injected event, simulated and wall time
    site: SiteConfig = SiteConfig()

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
