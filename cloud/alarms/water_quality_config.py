"""Settings of the water-quality alarm (water_quality.py): the ``alarms.water_quality`` section
(defaults: GB 5749-2022, ``WATER_QUALITY_LIMITS``)::

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

This module must not import ``config.py`` (which imports it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from watertel.cloud.alarms.rules import WATER_QUALITY_LIMITS
from watertel.config import Strict

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
