"""Time-driven device state: the values a simulated device holds at a given moment."""

from __future__ import annotations

import math
import random

from watertel.firmware_profiles import Profile
from watertel.simulators.config import Signal


def _default_signal(low: float, high: float) -> Signal:
    span = high - low
    return Signal(mean=low + span / 2, amplitude=span / 5, period_s=300, noise=span / 200)


class DeviceState:
    """Values of every point of one device, advanced to the time of each request."""

    def __init__(self, profile: Profile, signals: dict[str, Signal], seed: int) -> None:
        self.profile = profile
        self.rng = random.Random(seed)
        self.signals = {
            p.name: signals.get(p.name) or _default_signal(*(p.range or (0.0, 100.0))) for p in profile.points
        }
        unknown = set(signals) - set(self.signals)
        if unknown:
            raise ValueError(f"signals for points the profile lacks: {', '.join(sorted(unknown))}")
        self.values = {name: s.start if s.integrate else s.mean for name, s in self.signals.items()}
        self.last_t: float | None = None

    def _clip(self, name: str, value: float) -> float:
        bounds = self.profile.point(name).range
        return min(max(value, bounds[0]), bounds[1]) if bounds else value

    def advance(self, t: float) -> None:
        """Move every value to wall-clock time ``t`` (seconds)."""
        dt = 0.0 if self.last_t is None else max(0.0, t - self.last_t)
        for name, s in self.signals.items():
            if s.integrate:
                continue
            wave = s.amplitude * math.sin(2 * math.pi * t / s.period_s)
            self.values[name] = self._clip(name, s.mean + wave + self.rng.gauss(0, s.noise))
        for name, s in self.signals.items():
            if s.integrate:
                self.values[name] += max(self.values[s.integrate], 0.0) * dt / 3600
        self.last_t = t
