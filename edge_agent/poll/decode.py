"""Registers of one poll → readings, each with its quality flag."""

from __future__ import annotations

import math

from firmware_profiles import Profile
from firmware_profiles.codec import Block, decode
from watertel.readings import Quality, Reading


def to_readings(profile: Profile, station: str, t_ms: int,
                blocks: dict[Block, list[int] | Quality]) -> list[Reading]:
    """One reading per profile point.

    A point whose block failed carries that block's quality and NaN; a value outside the
    profile's range is OUT_OF_RANGE; any set fault bit in the status register makes every
    point of the device SENSOR_FAULT (its value still recorded, for diagnosis).
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
        regs = registers(p.function, p.address, p.count)
        if isinstance(regs, Quality):
            value, quality = math.nan, regs
        else:
            value = decode(p, regs)
            in_range = p.range is None or p.range[0] <= value <= p.range[1]
            quality = Quality.SENSOR_FAULT if faulty else (Quality.OK if in_range else Quality.OUT_OF_RANGE)
        readings.append(Reading(station, p.name, t_ms, value, p.unit, quality))
    return readings
