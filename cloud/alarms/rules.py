"""Alarm rules on each poll: device faults, an unsynchronised gateway clock, and totaliser resets.
(Chain gaps and gateway presence are raised by the engine; the data alarms, which remember across
polls, are in ``data_rules.py``; water quality, held for a minimum time, in ``water_quality.py``.)

A rule looks at one poll of one station (its readings share a sample time) and says, per alarm
key, whether the condition holds now; the engine raises on the first True and clears on the
first False, so an alarm is raised once, not once per reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watertel.cloud.alarms.messages import num
from watertel.readings import Quality, Reading

# (low, high) limits by point name; None = no limit on that side. GB 5749-2022 defaults, with the
# network-end minimum for disinfectant residuals: the defaults of ``alarms.water_quality.limits``.
WATER_QUALITY_LIMITS: dict[str, tuple[float | None, float | None]] = {
    "turbidity": (None, 1.0),
    "ph": (6.5, 8.5),
    "free_chlorine": (0.05, 2.0),
    "total_chlorine": (0.05, 3.0),
    "chlorine_dioxide": (None, 0.8),
    "codmn": (None, 3.0),
}
FAULTS = {Quality.TIMEOUT, Quality.EXCEPTION, Quality.COMM_ERROR, Quality.SENSOR_FAULT}


@dataclass(frozen=True)
class Condition:
    station: str
    point: str
    type: str
    severity: str  # blue | yellow | orange | red
    active: bool
    message: str  # English, for notifications, logs and API clients
    code: str = ""  # the message as data (cloud/alarms/messages.py), for the console's catalogue
    params: Mapping[str, Any] = field(default_factory=dict)


def device_fault(poll: list[Reading]) -> list[Condition]:
    faults = sorted({(r.point, r.quality.name) for r in poll if r.quality in FAULTS})
    bad = [f"{point}: {quality.lower()}" for point, quality in faults]
    return [Condition(poll[0].station, "*", "device_fault", "orange", bool(bad), "; ".join(bad) or "device answers",
                      "device_fault", {"faults": [{"point": p, "quality": q} for p, q in faults]})]


def clock_unsynced(poll: list[Reading]) -> list[Condition]:
    """The gateway sampled with a clock no time service disciplines: its sample times may be off."""
    skewed = any(r.quality is Quality.CLOCK_UNSYNCED for r in poll)
    return [Condition(poll[0].station, "*", "clock_unsynced", "yellow", skewed,
                      "the gateway clock is not synchronised: sample times may be wrong" if skewed else "clock synchronised",
                      "clock_unsynced")]


def totaliser_reset(poll: list[Reading]) -> list[Condition]:
    """A meter replaced or reset (the edge saw its totaliser go backwards): an event for someone to
    check the volume account, open until an operator closes it (never cleared by later readings)."""
    return [Condition(r.station, r.point, "totaliser_reset", "yellow", True,
                      f"{r.point} went back to {r.value:.6g} {r.unit}: meter replaced or reset?",
                      "totaliser_reset", {"point": r.point, "value": num(r.value), "unit": r.unit})
            for r in poll if r.quality is Quality.TOTAL_RESET]


RULES = (device_fault, clock_unsynced, totaliser_reset)
