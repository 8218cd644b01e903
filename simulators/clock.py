"""Simulated time: a start instant and a speed, so a day of field behaviour fits in a minute.

Every simulated device reads the same clock, so a burst scheduled at 02:00 shows up in the flow
meter and in the pressure transmitter at the same simulated instant. Tests drive a
``ManualClock`` instead, which makes a run independent of how fast the machine is.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the simulators need to know about time."""

    start: float  # simulated epoch seconds at the start of the run

    def now(self) -> float:
        """Simulated epoch seconds now."""

    def wall_of(self, t_sim: float) -> float:
        """Wall-clock epoch seconds at which simulated time ``t_sim`` is (or was) reached."""


class SimClock:
    """Simulated time runs ``speed`` times faster than the wall clock, from ``start``."""

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 (got {speed})")
        self.wall0 = time.time()
        self.start = self.wall0 if start is None else start
        self.speed = speed

    def now(self) -> float:
        return self.start + (time.time() - self.wall0) * self.speed

    def wall_of(self, t_sim: float) -> float:
        return self.wall0 + (t_sim - self.start) / self.speed


class ManualClock:
    """A clock that moves only when told: tests set the simulated time before each poll."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.t = start
        self.history = [(start, time.time())]  # (simulated, wall) at each set()

    def now(self) -> float:
        return self.t

    def set(self, t_sim: float) -> None:
        self.t = t_sim
        self.history.append((t_sim, time.time()))

    def wall_of(self, t_sim: float) -> float:
        """When the clock was first set at or past ``t_sim`` (now, if it has not been yet)."""
        return next((wall for t, wall in self.history if t >= t_sim), time.time())
