"""Water-withdrawal permits with their year so far (cloud/permits/report.py ``row``, plus
what the console shows beside it)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from watertel.cloud.alarms.lifecycle import Severity
from watertel.cloud.permits import Plan

IsoDate = str  # YYYY-MM-DD


class PlanUsePublic(BaseModel):
    plan: str = Field(description='"annual|monthly|bimonthly FIRST..LAST"')
    volume_m3: float
    planned_m3: float
    share: float | None


class MeterUsePublic(BaseModel):
    meter: str
    coefficient: float | None = Field(description="m3 per kWh for an energy meter; null: the point counts m3")
    volume_m3: float
    readings: int
    untrusted: int
    rollovers: int
    rollovers_skipped: int
    resets: int


class PermitStation(BaseModel):
    station: str
    name: str


class TierPublic(BaseModel):
    share: float
    severity: Severity


class DayVolume(BaseModel):
    day: IsoDate
    volume_m3: float


class PermitPublic(BaseModel):
    permit: str
    holder: str
    region: str = Field(description="the region path of the first meter's station")
    year: int
    first_day: IsoDate
    as_of: str = Field(description="ISO 8601 with offset, to the second")
    volume_m3: float
    permitted_m3: float
    share: float
    tier: float | None = Field(description="the highest tier reached (null: none)")
    severity: Severity | None
    since: IsoDate | None
    projection_date: IsoDate | None
    projection_method: str = Field(description="exceeded, run_rate, last_year_profile or none")
    rate_m3_per_day: float | None
    projected_within_year: bool
    plans: list[PlanUsePublic]
    meters: list[MeterUsePublic]
    stations: list[PermitStation]
    region_name: str
    last_day: IsoDate = Field(description="the permit year's last day")
    plan: Plan | None
    tiers: list[TierPublic]
    alarm_enabled: bool
    by_day: list[DayVolume] = Field(description="the permit year's withdrawal per local day so far (days with some)")


class PermitsPublic(BaseModel):
    now_ms: int
    permits: list[PermitPublic]
