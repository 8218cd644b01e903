"""Registers of one poll → readings, each with its quality flag."""

from __future__ import annotations

import math

from watertel.firmware_profiles import Point, Profile
from watertel.firmware_profiles.codec import Block, DecodeError, decode
from watertel.readings import Quality, Reading


def to_readings(profile: Profile, station: str, t_ms: int,
                blocks: dict[Block, list[int] | Quality]) -> list[Reading]:
    """One reading per profile point.

    A point whose block failed carries that block's quality and NaN; registers that hold no
    value of the point's type (BCD with a nibble above 9) are garbled data, COMM_ERROR and NaN;
    a value outside the profile's range, or not finite, is OUT_OF_RANGE; any set fault bit in the status
    register makes every point of the device SENSOR_FAULT (its value still recorded, for
    diagnosis). A composite totaliser (integer + fraction registers) is one reading; a bit
    point (coil, discrete input, or bit of a register) reads 0 or 1.
    """
    def registers(function, address, count) -> list[int] | Quality:
        block = next(b for b in blocks if b.function == function and b.covers(address, count))
        got = blocks[block]
        return got if isinstance(got, Quality) else block.slice(got, address, count)

    faulty = False
    if profile.status:
        status = registers(profile.status.function, profile.status.address, 1)
        mask = sum(1 << bit for bit in profile.status.faults)
        faulty = not isinstance(status, Quality) and bool(status[0] & mask)
    readings = []
    for p in profile.points:
        value, quality = _value(p, registers(p.function, p.first, p.count), faulty)
        readings.append(Reading(station, p.name, t_ms, value, p.unit, quality))
    return readings


def _value(point: Point, regs: list[int] | Quality, faulty: bool) -> tuple[float, Quality]:
    """Value and quality of one point from its registers (or the quality of its failed read)."""
    if isinstance(regs, Quality):
        return math.nan, regs
    try:
        value = decode(point, [int(r) for r in regs])  # coils arrive as bools
    except DecodeError:
        return math.nan, Quality.COMM_ERROR
    # a float register holding inf or NaN (some devices' "no value") is never a measurement
    in_range = math.isfinite(value) and (point.range is None or point.range[0] <= value <= point.range[1])
    return value, Quality.SENSOR_FAULT if faulty else (Quality.OK if in_range else Quality.OUT_OF_RANGE)
