"""Water quality (水质超标, issue 8): per-point limits held for a minimum time, cleared past a margin.

Settings, the ``alarms.water_quality`` section (defaults: GB 5749-2022, ``WATER_QUALITY_LIMITS``)::

    alarms:
      water_quality:
        min_duration_s: 300          # out of limits this long before the alarm is raised
        hysteresis: 0.05             # clear margin as a share of the limit, for points that give none
        limits:                      # changes to the defaults, per point and key
          turbidity: {high: 0.8}
          free_chlorine: {low: 0.3, hysteresis: 0.02}   # a plant outlet: >= 0.3 mg/L, margin in mg/L
          conductivity: {high: 1500}                    # a point without a default limit
          codmn: {high: null}                           # no limit there
      overrides:
        ST-0007: {water_quality: {limits: {free_chlorine: {low: 0.3}}}}

Why both: an analyser reading noisy around a limit would raise and clear every few minutes.
``min_duration_s`` keeps a one-sample spike from raising: the alarm is raised by the reading that
has been out of limits (continuously, on the same or the other side) for that long since the
first out-of-limit reading of the run; any reading back within the limit ends the run.
``hysteresis`` keeps noise from clearing it: once raised, only a reading inside the limit by the
margin clears it (``high - margin``, ``low + margin``); readings within the limit but inside the
margin change nothing. The margin is the point's own ``hysteresis`` (in its unit) or the rule's
share of the limit's value (pH defaults to 0.1).

Like the rules of ``data_rules.py``, the run is remembered by the engine in this process only; a
reading older than the last one seen for its point (a late backlog) is ignored, and a reading
without a trusted value (timeout, sensor fault) neither counts nor ends the run (``device_fault``
reports it). This module must not import ``config.py`` (which imports it).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from watertel.cloud.alarms.rules import WATER_QUALITY_LIMITS, Condition
from watertel.config import Strict
from watertel.readings import Reading

if TYPE_CHECKING:
    from watertel.cloud.alarms.config import AlarmsConfig

POINT = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
DEFAULT_MARGINS = {"ph": 0.1}  # absolute margins where a share of the limit makes no sense (pH 8.5 x 5 % = 0.4)


class QualityLimit(Strict):
    """One point's limits; ``None`` = no limit on that side. ``hysteresis``: the clear margin in
    the point's unit (unset: the rule's share of the limit)."""

    low: float | None = None
    high: float | None = None
    hysteresis: float | None = Field(None, ge=0)

    def margin(self, limit: float, share: float) -> float:
        return self.hysteresis if self.hysteresis is not None else abs(limit) * share


DEFAULT_LIMITS = {point: QualityLimit(low=low, high=high, hysteresis=DEFAULT_MARGINS.get(point))
                  for point, (low, high) in WATER_QUALITY_LIMITS.items()}


class WaterQualityRule(Strict):
    """水质超标 (see the module doc). ``limits`` lists only changes to the defaults."""

    enabled: bool = True
    limits: dict[POINT, QualityLimit] = {}
    min_duration_s: float = Field(300.0, ge=0)
    hysteresis: float = Field(0.05, ge=0, lt=1)
    severity: Literal["blue", "yellow", "orange", "red"] = "red"

    @model_validator(mode="after")
    def _ordered(self) -> WaterQualityRule:
        if problem := self.problem():
            raise ValueError(problem)
        return self

    def problem(self) -> str | None:
        """A limit pair the wrong way round, or a margin that would never let the alarm clear."""
        for point, lim in self.effective().items():
            if lim.low is not None and lim.high is not None:
                if lim.low >= lim.high:
                    return f"limits.{point}: low ({lim.low:g}) must be below high ({lim.high:g})"
                if lim.margin(lim.low, self.hysteresis) + lim.margin(lim.high, self.hysteresis) >= lim.high - lim.low:
                    return (f"limits.{point}: the hysteresis margins leave no value between {lim.low:g} and"
                            f" {lim.high:g} that clears the alarm (make hysteresis smaller)")
        return None

    def effective(self) -> dict[str, QualityLimit]:
        """The defaults with the keys given in ``limits`` replaced, per point."""
        out = dict(DEFAULT_LIMITS)
        for point, given in self.limits.items():
            out[point] = _merge(out.get(point), given)
        return out

    def merged(self, override: WaterQualityRule) -> dict[str, Any]:
        """Data of this section with a station's override on top: the keys it names replace
        these, and its ``limits`` replace per point and key (``{turbidity: {high: 0.5}}`` keeps the
        other points and turbidity's own margin)."""
        data = self.model_dump() | override.model_dump(include=override.model_fields_set - {"limits"})
        limits = dict(self.limits)
        for point, given in override.limits.items():
            limits[point] = _merge(limits.get(point), given)
        return data | {"limits": {p: lim.model_dump(exclude_unset=True) for p, lim in limits.items()}}


def _merge(base: QualityLimit | None, given: QualityLimit) -> QualityLimit:
    if base is None:
        return given
    return QualityLimit(**base.model_dump(exclude_unset=True) | given.model_dump(exclude_unset=True))


@dataclass
class _Run:
    last_t: int
    since: int | None = None  # first out-of-limit sample of the current run


class WaterQuality:
    """The rule, called per poll by the engine; remembers each (station, point)'s run."""

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        self.cfg, self.tz = cfg, tz
        self._settings: dict[str, tuple[WaterQualityRule, dict[str, QualityLimit]]] = {}
        self.runs: dict[tuple[str, str], _Run] = {}

    def settings(self, station: str) -> tuple[WaterQualityRule, dict[str, QualityLimit]]:
        found = self._settings.get(station)
        if found is None:
            rule = self.cfg.for_station(station).water_quality
            found = self._settings[station] = (rule, rule.effective())
        return found

    def __call__(self, poll: list[Reading]) -> list[Condition]:
        rule, limits = self.settings(poll[0].station)
        if not rule.enabled:
            return []
        found = []
        for r in poll:
            lim = limits.get(r.point)
            if lim is None or not r.quality.trusted_value or not math.isfinite(r.value):
                continue
            run = self.runs.setdefault((r.station, r.point), _Run(r.t_ms - 1))
            if r.t_ms <= run.last_t:
                continue
            run.last_t = r.t_ms
            if condition := self._judge(r, lim, rule, run):
                found.append(condition)
        return found

    def _judge(self, r: Reading, lim: QualityLimit, rule: WaterQualityRule, run: _Run) -> Condition | None:
        """Active once out long enough; inactive once past the margin; None in between (no change)."""
        side = _outside(r.value, lim)
        if side is not None:
            run.since = r.t_ms if run.since is None else run.since
            if r.t_ms - run.since < rule.min_duration_s * 1000:
                return None
            since = dt.datetime.fromtimestamp(run.since / 1000, self.tz).isoformat(timespec="seconds")
            return Condition(r.station, r.point, "water_quality", rule.severity, True,
                             f"{r.point} {r.value:.3g} {r.unit} {side} (out of limits since {since})")
        run.since = None
        if not _cleared(r.value, lim, rule.hysteresis):
            return None  # within the limit but inside the margin: an open alarm stays open
        return Condition(r.station, r.point, "water_quality", rule.severity, False,
                         f"{r.point} {r.value:.3g} {r.unit} within limits")


def _outside(value: float, lim: QualityLimit) -> str | None:
    if lim.low is not None and value < lim.low:
        return f"below {lim.low:g}"
    if lim.high is not None and value > lim.high:
        return f"above {lim.high:g}"
    return None


def _cleared(value: float, lim: QualityLimit, share: float) -> bool:
    low_ok = lim.low is None or value >= lim.low + lim.margin(lim.low, share)
    high_ok = lim.high is None or value <= lim.high - lim.margin(lim.high, share)
    return low_ok and high_ok
