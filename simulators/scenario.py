"""Scenario files: events scheduled at simulated times, validated before any socket opens.

A scenario is what a test or a demo wants the field to do, written the way an operator would
describe it (``at: 2h, kind: leak, rate: 30``). ``at`` and ``for`` are simulated time from the
scenario's ``start``: seconds, or a duration such as ``90s``, ``15m``, ``2h``, ``1d6h``.

    start: 2024-06-01T00:00:00+08:00
    events:
      - {at: 2h, kind: leak, rate: 30, growth: ramp, ramp: 1h}
      - {at: 5h, for: 10m, kind: offline, device: fm-1}

Errors read ``file:line: key: problem (fix)``, like every other watertel configuration.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BeforeValidator, Field, ValidationError, field_validator

from watertel.config import ConfigError, Strict, _describe, _line_of, parse_yaml, problem_at  # same message format

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: object) -> float:
    """Seconds from a number or a ``1d2h30m10s`` string (why: scenarios read like a field log)."""
    if isinstance(value, bool):
        raise ValueError("not a duration (write seconds or e.g. 90s, 15m, 2h, 1d)")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if not match or not any(match.groups()):
            raise ValueError("not a duration (write seconds or e.g. 90s, 15m, 2h, 1d)")
        seconds = sum(float(g) * n for g, n in zip(match.groups(), _UNITS.values()) if g)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration is >= 0 (write seconds or e.g. 90s, 15m, 2h, 1d)")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Growth(StrEnum):
    BURST = "burst"  # the full rate at once (a main bursting)
    RAMP = "ramp"  # growing linearly to the full rate over ``ramp`` (a joint opening up)


class ExceptionCode(StrEnum):
    """Modbus exception responses a device may answer with."""

    ILLEGAL_FUNCTION = "illegal_function"
    ILLEGAL_ADDRESS = "illegal_address"
    ILLEGAL_VALUE = "illegal_value"
    DEVICE_FAILURE = "device_failure"
    DEVICE_BUSY = "device_busy"


class _Event(Strict):
    at: Duration
    for_: Duration | None = Field(None, alias="for")  # None: until the end of the run
    note: str | None = None

    @property
    def end(self) -> float:
        return math.inf if self.for_ is None else self.at + self.for_

    def active(self, t: float) -> bool:
        """Is the event in force ``t`` simulated seconds after the start?"""
        return self.at <= t < self.end


class Leak(_Event):
    """Extra demand in the network: every inlet flow rises and pressure falls."""

    kind: Literal["leak"]
    rate: float = Field(gt=0)  # m³/h at full size
    growth: Growth = Growth.BURST
    ramp: Duration = 3600.0

    def flow(self, t: float) -> float:
        if not self.active(t):
            return 0.0
        if self.growth is Growth.BURST or self.ramp == 0:
            return self.rate
        return self.rate * min(1.0, (t - self.at) / self.ramp)


class ExtraPumping(_Event):
    """Pumps run outside their schedule (an over-permit withdrawal)."""

    kind: Literal["extra_pumping"]


class _OnPoint(_Event):
    device: str | None = None  # None: every device that has the point
    point: str


class Drift(_OnPoint):
    """A sensor reading wanders off by ``rate`` units per hour from ``at``."""

    kind: Literal["drift"]
    rate: float

    def apply(self, value: float, t: float) -> float:
        return value + self.rate * (t - self.at) / 3600


class Spike(_OnPoint):
    """An implausible value (冒大数) served instead of the true one; one tick unless ``for``."""

    kind: Literal["spike"]
    value: float
    for_: Duration | None = Field(1.0, alias="for")


class StuckZero(_OnPoint):
    """The sensor reads zero (a failed converter, or a meter whose sensor is dry)."""

    kind: Literal["stuck_zero"]


class _OnDevice(_Event):
    device: str | None = None  # None: every device


class Offline(_OnDevice):
    """The device stops answering (powered off, cable cut)."""

    kind: Literal["offline"]


class ExceptionResponse(_OnDevice):
    """The device answers every request with a Modbus exception."""

    kind: Literal["exception"]
    code: ExceptionCode = ExceptionCode.DEVICE_FAILURE


class CorruptCrc(_OnDevice):
    """Responses leave with a wrong CRC (noise on the RS-485 pair); RTU devices only."""

    kind: Literal["crc"]


class Slow(_OnDevice):
    """The device answers after ``delay`` wall-clock seconds (a busy or far-away slave)."""

    kind: Literal["slow"]
    delay: float = Field(gt=0, le=60)


class Rollover(_Event):
    """The totaliser passes its largest value at ``at`` and starts again from zero: the meter
    is started at the reading that makes it wrap then (no jump anywhere else)."""

    kind: Literal["rollover"]
    device: str | None = None
    point: str
    for_: None = Field(None, alias="for")


class Reset(_Event):
    """Meter replaced or reset: the totaliser restarts from ``value`` at ``at``."""

    kind: Literal["reset"]
    device: str | None = None
    point: str
    value: float = Field(0.0, ge=0)
    for_: None = Field(None, alias="for")


class ClockJump(_Event):
    """A gateway's clock jumps by ``offset`` seconds; devices have no clock, so this is only
    recorded in the ground truth for the fleet and the cloud tests to score against."""

    kind: Literal["clock_jump"]
    gateway: str | None = None
    offset: float
    for_: None = Field(None, alias="for")


Event = Annotated[Leak | ExtraPumping | Drift | Spike | StuckZero | Offline | ExceptionResponse | CorruptCrc | Slow
                  | Rollover | Reset | ClockJump, Field(discriminator="kind")]
COMM_KINDS = ("offline", "exception", "crc", "slow")


class Scenario(Strict):
    start: datetime | None = None  # simulated time at the start of the run (default: now)
    events: list[Event] = []

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError(f"needs a time zone (got {v.isoformat()}; append +08:00 or Z)")
        return v

    @property
    def start_epoch(self) -> float | None:
        return None if self.start is None else self.start.timestamp()


class LoadedScenario:
    """A validated scenario with the file and node tree, for errors found against a run."""

    def __init__(self, path: Path, scenario: Scenario, node: yaml.Node | None) -> None:
        self.path, self.scenario, self.node = path, scenario, node

    @property
    def events(self) -> list:
        return self.scenario.events

    def problem(self, index: int, key: str, text: str) -> str:
        return problem_at(self.path, self.node, ("events", index, key), text)


def _problem(path: Path | str, node: yaml.Node | None, err: dict) -> str:
    """One pydantic error as ``file:line: key: problem (fix)``, without the event kind that
    pydantic puts in the location of a tagged union (``events.2.leak.rate`` is ``events.2.rate``
    in the file, and its line is the line of ``rate``)."""
    loc = list(err["loc"])
    if len(loc) >= 3 and loc[0] == "events" and isinstance(loc[1], int) and isinstance(loc[2], str):
        del loc[2]
    if err["type"] == "union_tag_invalid":
        kinds = ", ".join(err["ctx"]["expected_tags"].replace("'", "").split(", "))
        return problem_at(path, node, (*loc, "kind"), f"unknown kind {err['ctx']['tag']!r} (use one of {kinds})")
    if err["type"] == "union_tag_not_found":
        return problem_at(path, node, tuple(loc), "an event needs a kind (add kind: leak, offline, …)")
    line = _line_of(node, tuple(loc))
    text = _describe({**err, "loc": tuple(loc)})
    return f"{path}:{line}: {text}" if line else f"{path}: {text}"


def load_scenario(path: Path | str) -> LoadedScenario:
    """Read and validate a scenario file; raise ConfigError (file:line: key: problem (fix))."""
    data, node = parse_yaml(path)
    try:
        scenario = Scenario.model_validate(data if data is not None else {})
    except ValidationError as err:
        raise ConfigError(path, [_problem(path, node, e) for e in err.errors(include_url=False)]) from err
    return LoadedScenario(Path(path), scenario, node)


def empty_scenario() -> LoadedScenario:
    return LoadedScenario(Path("(no scenario)"), Scenario(), None)


def raise_problems(loaded: LoadedScenario, problems: list[str]) -> None:
    if problems:
        raise ConfigError(loaded.path, problems)
