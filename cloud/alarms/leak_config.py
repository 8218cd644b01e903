"""Settings of the leak alarms (``cloud/alarms/leaks.py``): the ``night_flow``, ``mass_balance``
and ``burst`` sections of ``alarms:``, and the metered ``areas`` the mass balance is kept for.

Areas are here rather than in the registry because only this rule needs them: an area names the
stations whose flow enters it (``inlets``), leaves it for another area (``outlets``) and is
delivered to metered consumers (``consumers``); a station may belong to several areas (the
outlet of one is the inlet of the next). This module must not import ``config.py`` (which
imports it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from watertel.config import Strict
from watertel.ids import ID_PATTERN

POINT = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
STATION = Annotated[str, Field(pattern=ID_PATTERN)]
MIN_MS = 60_000


class NightFlowRule(Strict):
    """Minimum night flow: the lowest ``average_minutes`` mean between ``start`` and ``end`` (local)
    against the median + ``k``·1.4826·MAD of the last ``baseline_nights`` nights (at least
    ``min_rise`` of the median above it)."""

    enabled: bool = True
    start: dt.time = dt.time(2, 0)
    end: dt.time = dt.time(4, 0)  # at or before start: the window crosses midnight
    average_minutes: int = Field(15, ge=1, le=240)
    baseline_nights: int = Field(14, ge=3)
    min_nights: int = Field(5, ge=2)  # fewer nights of baseline: no judgement yet
    k: float = Field(2.0, gt=0)  # k and min_rise tuned on bench_alarms.py --seed 1
    min_rise: float = Field(0.08, ge=0)  # share of the median: the threshold is at least this far above
    nights: int = Field(1, ge=1)  # consecutive nights above the threshold before raising (M)
    jump: float | None = Field(0.25, gt=0)  # one night this share above the median raises at once (x)
    min_samples: int = Field(2, ge=1)  # a night with fewer samples in the window is not judged
    points: list[POINT] = ["flow"]


class MassBalanceRule(Strict):
    """Mass balance of an area: inflow − outflow − metered consumption (mean flows over the window)
    above ``max_loss_share`` of the inflow (and above ``min_loss`` m³/h) for ``sustain_minutes``;
    cleared when below ``clear_share`` of it for as long."""

    enabled: bool = True
    window_minutes: int = Field(60, ge=1)
    sustain_minutes: int = Field(60, ge=0)  # also how long it must be back below to clear
    max_loss_share: float = Field(0.08, ge=0)
    clear_share: float = Field(0.04, ge=0)  # cleared below this share (a leak is a smaller share at peak demand)
    min_loss: float = Field(0.0, ge=0)  # m³/h
    flow_points: list[POINT] = ["flow"]

    @model_validator(mode="after")
    def _below(self) -> MassBalanceRule:
        if self.clear_share > self.max_loss_share:
            raise ValueError(f"clear_share ({self.clear_share}) must not exceed max_loss_share ({self.max_loss_share})")
        return self


class BurstRule(Strict):
    """Burst: the mean of the last ``confirm_minutes`` against the straight line fitted to the rest
    of the last ``window_minutes`` (extended to now): flow above it by ``flow_rise`` and pressure
    below it by ``pressure_drop`` (shares), each by ``significance`` standard errors of the line.
    Cleared by the reverse step (the main isolated)."""

    enabled: bool = True
    window_minutes: int = Field(20, ge=2)
    confirm_minutes: int = Field(3, ge=1)
    flow_rise: float = Field(0.10, gt=0)
    pressure_drop: float = Field(0.015, gt=0)
    significance: float = Field(3.0, ge=0)  # both steps this many standard errors off the trend
    min_flow: float = Field(1.0, ge=0)  # m³/h; a reference flow below this is not judged (pumps off)
    flow_point: POINT = "flow"
    pressure_point: POINT = "pressure"

    @model_validator(mode="after")
    def _fits(self) -> BurstRule:
        if self.confirm_minutes >= self.window_minutes:
            raise ValueError(f"confirm_minutes ({self.confirm_minutes}) must be less than window_minutes"
                             f" ({self.window_minutes})")
        return self


class Area(Strict):
    """A metered area: flow into it (``inlets``), out of it to other areas (``outlets``) and to
    metered consumers; each a station whose flow point (``mass_balance.flow_points``) is read."""

    id: STATION
    inlets: list[STATION] = Field(min_length=1)
    outlets: list[STATION] = []
    consumers: list[STATION] = []

    @model_validator(mode="after")
    def _once(self) -> Area:
        members = [*self.inlets, *self.outlets, *self.consumers]
        if twice := sorted({s for s in members if members.count(s) > 1}):
            raise ValueError(f"area {self.id}: each station once (given more than once: {', '.join(twice)})")
        return self


def _unique(areas: list[Area]) -> list[Area]:
    ids = [a.id for a in areas]
    if twice := sorted({i for i in ids if ids.count(i) > 1}):
        raise ValueError(f"area ids must be unique (repeated: {', '.join(twice)})")
    return areas


AREAS = Annotated[list[Area], AfterValidator(_unique)]
