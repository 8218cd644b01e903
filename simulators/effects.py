"""What a scenario's events do to one device at a given simulated time.

Times here are simulated seconds since the scenario's start. The events were validated on load;
``check_events`` then checks them against the devices of this run (names, points, RTU-only
faults) so a typo fails before the simulators start, with the scenario file's line.
"""

from __future__ import annotations

from dataclasses import dataclass

from watertel.firmware_profiles import Profile
from watertel.simulators.scenario import (
    COMM_KINDS, CorruptCrc, Drift, ExtraPumping, Leak, LoadedScenario, Reset, Rollover, Spike, StuckZero,
)


@dataclass(frozen=True)
class DeviceInfo:
    """What the checks need to know of a device: its profile, whether it is on an RTU bus,
    whether physics drives it (only physics keeps a totaliser that can roll over or be reset)."""

    profile: Profile
    rtu: bool
    physics: bool


def _targets(event, devices: dict[str, DeviceInfo]) -> list[str]:
    device = getattr(event, "device", None)
    return list(devices) if device is None else [device] if device in devices else []


def _check_one(loaded: LoadedScenario, i: int, event, devices: dict[str, DeviceInfo]) -> list[str]:
    device = getattr(event, "device", None)
    if device is not None and device not in devices:
        return [loaded.problem(i, "device", f"no device {device!r} in this run (use one of {sorted(devices)})")]
    point = getattr(event, "point", None)
    problems = []
    if point is not None:
        having = [d for d in _targets(event, devices) if any(p.name == point for p in devices[d].profile.points)]
        if not having:
            problems.append(loaded.problem(i, "point", f"no device here has a point {point!r} (check the profile's point names)"))
        if isinstance(event, (Rollover, Reset)):
            if any(not devices[d].profile.point(point).totaliser for d in having):
                problems.append(loaded.problem(i, "point", f"{point!r} is not a totaliser (use a point with totaliser: true)"))
            if any(not devices[d].physics for d in having):
                problems.append(loaded.problem(i, "device", "only a device with a model keeps a totaliser "
                                                            "(give the device a model: section)"))
    if isinstance(event, CorruptCrc) and not any(devices[d].rtu for d in _targets(event, devices)):
        problems.append(loaded.problem(i, "kind", "a CRC is only on RTU frames (target a device on an RTU bus)"))
    return problems


def check_events(loaded: LoadedScenario, devices: dict[str, DeviceInfo]) -> list[str]:
    """Problems of the scenario against this run's devices, one ``file:line: key: problem`` each."""
    problems = []
    rollovers: set[tuple[str, str]] = set()
    for i, event in enumerate(loaded.events):
        problems += _check_one(loaded, i, event, devices)
        if isinstance(event, Rollover):
            for d in _targets(event, devices):
                if (d, event.point) in rollovers:
                    problems.append(loaded.problem(i, "at", f"{d}.{event.point} already rolls over once "
                                                            "(schedule one rollover per totaliser)"))
                rollovers.add((d, event.point))
    return problems


class DeviceEffects:
    """The events that concern one device, asked at each tick and each request."""

    def __init__(self, name: str, profile: Profile, events: list) -> None:
        points = {p.name for p in profile.points}
        mine = [e for e in events if getattr(e, "device", None) in (None, name)]
        self.value_events = [e for e in mine if isinstance(e, (Drift, Spike, StuckZero)) and e.point in points]
        self.comm_events = [e for e in mine if e.kind in COMM_KINDS]
        self.resets = sorted((e for e in mine if isinstance(e, Reset) and e.point in points), key=lambda e: e.at)
        self.rollovers = {e.point: e for e in mine if isinstance(e, Rollover) and e.point in points}
        self.leaks = [e for e in events if isinstance(e, Leak)]
        self.pumping = [e for e in events if isinstance(e, ExtraPumping)]

    def value(self, point: str, value: float, t: float) -> float:
        """The reading a faulty sensor gives for ``value``: drift, then stuck-at-zero, then spikes."""
        for e in self.value_events:
            if e.point != point or not e.active(t):
                continue
            if isinstance(e, Drift):
                value = e.apply(value, t)
            elif isinstance(e, StuckZero):
                value = 0.0
            else:
                value = e.value
        return value

    def comm(self, t: float):
        """The first communication fault in force at ``t`` (offline before exception before
        slow), or None when the device answers normally."""
        active = [e for e in self.comm_events if e.active(t)]
        return min(active, key=lambda e: COMM_KINDS.index(e.kind)) if active else None

    def leak_flow(self, t: float) -> float:
        return sum(e.flow(t) for e in self.leaks)

    def extra_pumping(self, t: float) -> bool:
        return any(e.active(t) for e in self.pumping)

    def reset_due(self, point: str, t0: float, t1: float) -> Reset | None:
        """The last reset of ``point`` scheduled in ``(t0, t1]``."""
        due = [e for e in self.resets if e.point == point and t0 < e.at <= t1]
        return due[-1] if due else None
