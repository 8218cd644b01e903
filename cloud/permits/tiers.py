"""Early-warning tiers of a permit's withdrawal, and the over-permit rule that holds them: the
``alarms.over_permit`` section (overridden per permit id in ``alarms.overrides``).

The over-permit alarms (cloud/alarms/over_permit.py) and the permit reports (report.py, the rates
report's ``over_permit`` list) both grade a permit by these tiers. They take the rule of each
permit from anything shaped like the ``alarms:`` section (``PermitRules``), so neither the reports
nor this package need the alarms package.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import Field, model_validator

from watertel.config import Strict

SEVERITY = Literal["blue", "yellow", "orange", "red"]
SEVERITIES = ("blue", "yellow", "orange", "red")  # in rising order


class Tier(Strict):
    """An early-warning tier: at or above ``share`` of the permitted (or planned) volume."""

    share: float = Field(gt=0, le=10)
    severity: SEVERITY


def reached(tiers: list[Tier], share: float | None) -> Tier | None:
    """The highest tier at or below ``share`` (None: below every tier, or no share)."""
    found = [t for t in tiers if share is not None and share >= t.share - 1e-9]
    return found[-1] if found else None


DEFAULT_TIERS = [Tier(share=0.8, severity="yellow"), Tier(share=0.9, severity="orange"), Tier(share=1.0, severity="red")]


class OverPermitRule(Strict):
    """超许可 / 超计划: the permit year's withdrawal against the permitted volume (``over_permit``)
    and the running plan periods (``over_plan``), warned at ``tiers`` (the highest reached gives
    the severity); ``over_permit_projected`` when the run rate over ``window_days`` (or last
    year's profile) reaches the permit before the year ends, once ``projection_min_days`` of the
    permit year have passed. Overridden per permit id."""

    enabled: bool = True
    tiers: list[Tier] = Field(DEFAULT_TIERS, min_length=1)
    plan_tiers: list[Tier] = Field(DEFAULT_TIERS, min_length=1)
    window_days: int = Field(30, ge=1, le=366)
    projected_severity: SEVERITY = "yellow"
    # no projection warning before this many days of the permit year: a run rate of a day or two
    # (a cold January week) warned 6 of 16 permits that ended at 82-98 % (bench/bench_alarms.py)
    projection_min_days: int = Field(14, ge=0, le=366)

    @model_validator(mode="after")
    def _rising(self) -> OverPermitRule:
        for name in ("tiers", "plan_tiers"):
            tiers = getattr(self, name)
            shares = [t.share for t in tiers]
            ranks = [SEVERITIES.index(t.severity) for t in tiers]
            if shares != sorted(set(shares)) or ranks != sorted(ranks):
                raise ValueError(f"{name}: list shares in rising order, each once, with severities that do"
                                 f" not fall (got {[(t.share, t.severity) for t in tiers]})")
        return self


class _Rules(Protocol):
    @property
    def over_permit(self) -> OverPermitRule: ...


class PermitRules(Protocol):
    """The rules of each permit (``AlarmsConfig``: the defaults, or a permit's override)."""

    def for_station(self, station: str) -> _Rules: ...


def rule_for(rules: PermitRules | None, permit_id: str) -> OverPermitRule:
    """The over-permit rule of one permit (the built-in one when no rules are given)."""
    return rules.for_station(permit_id).over_permit if rules is not None else OverPermitRule()
