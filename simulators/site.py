"""The physics of one supply site: demand, pumps, pressure, chlorine, well level, energy.

Every quantity comes from the same few causes, so they move together as in the field::

    demand(hour) ─┬─ + leak ──► inlet flow ──┬─► pressure = static − headloss·(Q/Q̄)²
                  │                          └─► water age = volume/Q ─► chlorine = dose·e^(−k·age)
    pump schedule ┴─ or extra pumping ──► well flow, drive frequency/power ──► energy
                                      └─► drawdown (first order) ──► well level

The demand follows a diurnal curve with a night minimum around 03:00 and morning and evening
peaks; each day is scaled by a seeded factor so days differ but runs repeat. Sensor noise is
not here (it belongs to each device); the site is the same for every device of a run.
"""

from __future__ import annotations

import math
import random

from watertel.simulators.config import SiteConfig
from watertel.simulators.effects import DeviceEffects

_PEAKS = ((7.5, 1.5, 1.0), (19.5, 2.0, 0.8), (13.0, 3.5, 0.5))  # (hour, width h, weight) of demand


def _bump(hour: float, centre: float, width: float) -> float:
    """A Gaussian on the 24-hour circle."""
    d = (hour - centre + 12) % 24 - 12
    return math.exp(-0.5 * (d / width) ** 2)


def _raw_shape(hour: float) -> float:
    return sum(w * _bump(hour, c, s) for c, s, w in _PEAKS)


class Site:
    """Site quantities at tick boundaries; stateful only for the well's drawdown."""

    def __init__(self, cfg: SiteConfig) -> None:
        self.cfg = cfg
        hours = [h / 10 for h in range(240)]
        raw = [_raw_shape(h) for h in hours]
        top, low, mean = max(raw), min(raw), sum(raw) / len(raw)
        # shape = night + k·(raw − low): its minimum is night_factor, its day mean is 1
        self._k = (1 - cfg.night_factor) / (mean - low)
        self._low = low
        self.peak_shape = cfg.night_factor + self._k * (top - low)
        self.drawdown = 0.0
        self._day: tuple[int, float] | None = None

    def shape(self, hour: float) -> float:
        """Demand ÷ day mean at local ``hour`` (night_factor at the night minimum)."""
        return self.cfg.night_factor + self._k * (_raw_shape(hour) - self._low)

    def _day_factor(self, day: int) -> float:
        if self._day is None or self._day[0] != day:
            u = random.Random(self.cfg.seed * 1_000_003 + day).uniform(-1, 1)
            self._day = (day, 1 + self.cfg.day_variation * u)
        return self._day[1]

    def pumping(self, hour: float, rel: float, effects: DeviceEffects) -> bool:
        return any(w.covers(hour) for w in self.cfg.pumps) or effects.extra_pumping(rel)

    def step(self, t: float, rel: float, dt: float, effects: DeviceEffects) -> dict[str, float]:
        """Quantities at simulated epoch ``t`` (``rel`` s after the start), ``dt`` after the
        previous step (the drawdown relaxes over it)."""
        c = self.cfg
        local = t + c.utc_offset_h * 3600
        hour = (local % 86400) / 3600
        shape = self.shape(hour)
        demand = c.mean_demand * shape * self._day_factor(math.floor(local / 86400))
        inlet = demand + effects.leak_flow(rel)
        on = self.pumping(hour, rel, effects)
        q = {"demand": demand, "inlet_flow": inlet, "pump_running": float(on)}
        q.update(self._hydraulics(inlet, on))
        q.update(self._quality(inlet, hour))
        q.update(self._pump(on, shape))
        q.update(self._level(on, dt))
        q.update(self._energy(q["pump_power"]))
        return q

    def _hydraulics(self, inlet: float, on: bool) -> dict[str, float]:
        c = self.cfg
        area = math.pi * c.pipe_diameter_m**2 / 4
        well = c.pump_flow if on else 0.0
        return {"pressure": c.static_pressure - c.headloss * (inlet / c.mean_demand) ** 2,
                "velocity": inlet / 3600 / area, "well_flow": well, "well_velocity": well / 3600 / area}

    def _quality(self, inlet: float, hour: float) -> dict[str, float]:
        c = self.cfg
        age_h = c.network_volume / max(inlet, 1e-3)
        daily = math.sin(2 * math.pi * (hour - 9) / 24)  # warmest mid-afternoon
        return {"free_chlorine": c.chlorine_dose * math.exp(-c.chlorine_decay_per_h * age_h),
                "turbidity": 0.15 + 0.15 * inlet / c.mean_demand,  # higher velocity stirs up deposits
                "ph": 7.4 + 0.08 * daily, "conductivity": 450 + 15 * daily,
                "water_temperature": c.water_temperature + 1.5 * daily}

    def _pump(self, on: bool, shape: float) -> dict[str, float]:
        c = self.cfg
        hz = min(50.0, 35 + 15 * shape / self.peak_shape) if on else 0.0  # the drive follows demand
        kw = c.pump_kw * (hz / 50) ** 3
        return {"pump_frequency": hz, "pump_power": kw, "pump_current": kw * 1000 / (math.sqrt(3) * 380 * 0.86)}

    def _level(self, on: bool, dt: float) -> dict[str, float]:
        c = self.cfg
        target = c.drawdown if on else 0.0
        self.drawdown += (target - self.drawdown) * (1 - math.exp(-dt / c.drawdown_tau_s))
        column = c.static_level - self.drawdown
        return {"water_column": column, "depth_to_water": c.well_depth - column, "level_pressure": column * 9.80665}

    def _energy(self, pump_kw: float) -> dict[str, float]:
        pf = 0.86
        active = pump_kw + 0.8  # controls, lighting and the chlorinator run all day
        return {"active_power": active, "power_factor": pf, "reactive_power": active * math.tan(math.acos(pf)),
                "voltage": 230.0, "phase_current": active * 1000 / (3 * 230 * pf), "grid_frequency": 50.0}
