"""A device driven by the site's physics, advanced in fixed simulated ticks.

Why ticks: the state at a tick depends only on the seed, the scenario and the tick number, never
on when or how often a client asks, so two runs with the same seed serve the same values at the
same simulated times, and a totaliser integrates every tick's served flow, read or not.

At each tick a point bound to a site quantity gets the quantity plus its sensor noise, then the
scenario's sensor faults (drift, stuck at zero, spikes). A totaliser integrates the value its
source point served during the previous tick (through the register encoding, so the integral
matches what a client read) and shows it after resets and spikes.
"""

from __future__ import annotations

import math
import random

from watertel.firmware_profiles import DataType, Point, Profile
from watertel.firmware_profiles.codec import representable
from watertel.simulators.config import ModelConfig, ModelKind, SiteConfig
from watertel.simulators.effects import DeviceEffects
from watertel.simulators.site import Site
from watertel.simulators.totaliser import Totaliser

BINDINGS: dict[ModelKind, dict[str, str]] = {  # point name → site quantity, per kind of device
    ModelKind.INLET: {"flow": "inlet_flow", "velocity": "velocity"},
    ModelKind.WELL: {"flow": "well_flow", "velocity": "well_velocity"},
    ModelKind.PRESSURE: {"pressure": "pressure"},
    ModelKind.WATER_QUALITY: {"free_chlorine": "free_chlorine", "residual_chlorine": "free_chlorine",
                              "turbidity": "turbidity", "ph": "ph", "conductivity": "conductivity",
                              "temperature": "water_temperature"},
    ModelKind.PUMP: {"running": "pump_running", "run_command": "pump_running", "frequency": "pump_frequency",
                     "speed_setpoint": "pump_frequency", "current": "pump_current", "power": "pump_power"},
    ModelKind.LEVEL: {"water_column": "water_column", "depth_to_water": "depth_to_water",
                      "pressure": "level_pressure", "temperature": "water_temperature"},
    ModelKind.ENERGY: {"active_power": "active_power", "power_factor": "power_factor", "frequency": "grid_frequency",
                       **{f"voltage_l{i}": "voltage" for i in (1, 2, 3)},
                       **{f"current_l{i}": "phase_current" for i in (1, 2, 3)}},
}
CONSTANTS = {"fault_code": 0.0, "remote_mode": 1.0, "signal_quality": 85.0, "no_signal": 0.0, "sample_flow_ok": 1.0,
             "electrode_mv": 650.0, "firmware_version": 213.0, "low_alarm_setpoint": 0.3, "cleaning_start": 0.0}
INTEGRAL_UNITS = {"m3": ("flow",), "kWh": ("power", "active_power"), "kvarh": ("reactive_power",)}
_NOISELESS = {"running", "run_command", "speed_setpoint", "power_factor", "frequency"}


def _is_total(p: Point) -> bool:
    return p.totaliser or (p.unit in INTEGRAL_UNITS and p.type is not DataType.BIT)


class PhysicsState:
    """Values of every point of one device; ``advance(t)`` runs the ticks up to ``t``."""

    def __init__(self, profile: Profile, model: ModelConfig, site: SiteConfig, effects: DeviceEffects,
                 seed: int, start: float, preset_rollovers: bool = True) -> None:
        self.profile, self.model, self.effects, self.start = profile, model, effects, start
        self.site = Site(site)
        self.rng = random.Random(seed)
        self.tick = model.tick_s
        self.k = -1  # last tick computed
        bindings = BINDINGS[model.kind]
        self.bound = {p.name: bindings[p.name] for p in profile.points if p.name in bindings and not _is_total(p)}
        self.points = {p.name: p for p in profile.points}
        self.totals = {p.name: Totaliser(p, model.totals.get(p.name, 0.0), "forward" in p.name)
                       for p in profile.points if _is_total(p)}
        self.sources = {name: self._source(name) for name in self.totals}
        self.values = {p.name: self._constant(p) for p in profile.points}
        self.quantities: dict[str, float] = {}
        if preset_rollovers and effects.rollovers:
            self._preset_rollovers(profile, site, seed)

    def _constant(self, p: Point) -> float:
        if p.name in self.model.constants:
            return self.model.constants[p.name]
        if p.name in CONSTANTS:
            return CONSTANTS[p.name]
        return 0.0 if p.range is None or p.type is DataType.BIT else max(p.range[0], min(p.range[1], 0.0))

    def _source(self, total: str) -> str:
        """The point (or site quantity) a totaliser integrates."""
        if total in self.model.integrate:
            return self.model.integrate[total]
        names = INTEGRAL_UNITS.get(self.points[total].unit, ())
        return next((n for n in names if n in self.bound), names[0] if names else "flow")

    def _preset_rollovers(self, profile: Profile, site: SiteConfig, seed: int) -> None:
        """Start each rolling totaliser at the reading that makes it wrap at its event's time:
        a dry run (same seed, so the same integral) tells how much it will have counted."""
        dry = PhysicsState(profile, self.model, site, self.effects, seed, self.start, preset_rollovers=False)
        for name, event in self.effects.rollovers.items():
            dry.advance(self.start + event.at)
            total = self.totals[name]
            total.base += total.modulus - dry.totals[name].raw

    def advance(self, t: float) -> None:
        """Run every tick up to simulated epoch ``t``."""
        target = math.floor((t - self.start) / self.tick + 1e-9)
        while self.k < target:
            self._step(self.k + 1)

    def _step(self, k: int) -> None:
        rel = k * self.tick
        if k > 0:  # the rates served during the last tick flow into the totalisers
            for name, total in self.totals.items():
                total.add(self._rate(self.sources[name]), self.tick)
                reset = self.effects.reset_due(name, rel - self.tick, rel)
                if reset is not None:
                    total.reset(reset.value)
        self.quantities = self.site.step(self.start + rel, rel, self.tick if k else 0.0, self.effects)
        for name, quantity in self.bound.items():
            p = self.points[name]
            value = self.quantities[quantity] + self._noise(p)
            if p.range:
                value = min(max(value, p.range[0]), p.range[1])  # a transmitter saturates at its span
            self.values[name] = representable(p, self.effects.value(name, value, rel))
        for name, total in self.totals.items():
            self.values[name] = self.effects.value(name, total.value, rel)
        self.k = k

    def _rate(self, source: str) -> float:
        return self.values[source] if source in self.bound else self.quantities.get(source, 0.0)

    def _noise(self, p: Point) -> float:
        if p.name in _NOISELESS or p.type is DataType.BIT:
            return 0.0
        default = self.model.noise_share * (p.range[1] - p.range[0]) if p.range else 0.0
        sigma = self.model.noise.get(p.name, default)
        return self.rng.gauss(0, sigma) if sigma > 0 else 0.0
