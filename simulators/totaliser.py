"""A meter's totaliser: counts whole register steps, so what it serves is an exact integral.

A real meter accumulates pulses; here the integral of the served flow is kept as an integer
number of the register's smallest step (a litre for ``u32 m³ + u16 × 0.001``) plus a carried
remainder below one step. Summing floats instead would drift away from the flow a client saw,
and the difference would look like a leak. The counter wraps where its integer register does.
"""

from __future__ import annotations

import math

from watertel.firmware_profiles import DataType, Point


def register_step(point: Point) -> float | None:
    """The value of one count of the totaliser's lowest register (None for float registers)."""
    f = point.fraction
    if f is not None:
        return abs(f.scale) if f.type is not DataType.F32 else None
    return abs(point.scale) if point.type.is_integer else None


def wrap_modulus(point: Point) -> float:
    """The reading at which the counter starts again from zero (inf for float registers)."""
    top = point.type.max_raw
    return math.inf if top is None else (top + 1) * abs(point.scale)


class Totaliser:
    """Integrates a rate (per hour) in whole steps; ``value`` is what the registers show."""

    def __init__(self, point: Point, start: float, positive_only: bool) -> None:
        self.step = register_step(point)
        self.modulus = wrap_modulus(point)
        self.signed = point.type.signed
        self.positive_only = positive_only
        self.base = start
        self.counts = 0
        self.remainder = 0.0

    def add(self, rate_per_h: float, seconds: float) -> None:
        """Add ``rate_per_h`` held for ``seconds``."""
        if self.positive_only:
            rate_per_h = max(rate_per_h, 0.0)
        volume = rate_per_h * seconds / 3600
        if self.step is None:
            self.remainder += volume
            return
        steps = volume / self.step + self.remainder
        whole = math.floor(steps)
        self.counts += whole
        self.remainder = steps - whole

    @property
    def raw(self) -> float:
        """The reading before wrapping (what an ever-growing counter would show)."""
        if self.step is None:
            return self.base + self.remainder
        return self.base + self.counts * self.step

    @property
    def value(self) -> float:
        raw, m = self.raw, self.modulus
        if math.isinf(m):
            return raw
        if self.signed:  # a net total counts down too: it wraps at both ends
            return raw if -m <= raw < m else (raw + m) % (2 * m) - m
        return raw % m

    def reset(self, value: float) -> None:
        """A new meter: counting restarts from ``value`` (usually 0)."""
        self.base, self.counts, self.remainder = value, 0, 0.0
