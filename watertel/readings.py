"""The reading: one sampled value of one point, as it travels from gateway to cloud."""

from __future__ import annotations

import math
from enum import IntEnum
from itertools import repeat
from typing import Iterable, NamedTuple


class Quality(IntEnum):
    """Why a reading is (not) trustworthy; the rates and alarms need the reason, not a None.

    The integer values are on the wire (envelope byte layout): never renumber, only append.
    """

    OK = 0
    TIMEOUT = 1  # the device did not answer in time
    EXCEPTION = 2  # the device answered with a Modbus exception response
    OUT_OF_RANGE = 3  # decoded value outside the profile's valid range
    SENSOR_FAULT = 4  # the device's own status bits flag the sensor as faulty
    COMM_ERROR = 5  # port or connection gone, garbled frame
    TOTAL_ROLLOVER = 6  # a totaliser passed its largest value and restarted from 0: value valid, delta wraps
    TOTAL_RESET = 7  # a totaliser went backwards otherwise: meter replaced or reset; value valid
    CLOCK_UNSYNCED = 8  # sampled while the gateway clock was not synchronised: the time may be wrong

    @property
    def trusted_value(self) -> bool:
        """The value is what the device measured (only its delta or its time may need care)."""
        return self in (Quality.OK, Quality.TOTAL_ROLLOVER, Quality.TOTAL_RESET, Quality.CLOCK_UNSYNCED)


class Reading(NamedTuple):
    """One sample. ``value`` is NaN when the quality says no value could be read.

    A named tuple rather than a frozen dataclass: immutable and compared field by field alike,
    but made in C (``tuple.__new__``) when an envelope of many readings is opened; a dataclass
    ``__init__`` per reading cost a third of an SM2 verification per 100 readings.
    """

    station: str
    point: str
    t_ms: int  # sample time, Unix epoch milliseconds (UTC)
    value: float
    unit: str
    quality: Quality = Quality.OK

    def key(self) -> tuple[str, str, int]:
        """Identity of a sample: one value per station, point and sample time."""
        return (self.station, self.point, self.t_ms)

    def same_as(self, other: Reading) -> bool:
        """Equal, treating NaN values as equal (a failed read carries NaN)."""
        both_nan = math.isnan(self.value) and math.isnan(other.value)
        return self.key() == other.key() and self.unit == other.unit and self.quality == other.quality and (
            both_nan or self.value == other.value
        )


def make_readings(stations: Iterable[str], points: Iterable[str], times: Iterable[int],
                  values: Iterable[float], units: Iterable[str], qualities: Iterable[Quality]) -> tuple[Reading, ...]:
    """Many readings from columns of already-checked values, made without running Python code
    per reading (the decoder's fast path)."""
    rows = zip(stations, points, times, values, units, qualities)
    return tuple(map(tuple.__new__, repeat(Reading), rows))
