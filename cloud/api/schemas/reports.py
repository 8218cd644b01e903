"""A rates report as JSON (cloud/quality/export.py ``to_json``, the same as the stored .json files)
and the list of stored reports.

Rates are fractions 0–1, null when their denominator is zero; counts sit beside them so the
arithmetic can be checked."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from watertel.cloud.quality.config import RatesConfig

Rate = float | None
IsoDate = str  # YYYY-MM-DD
IsoTime = str  # ISO 8601 with offset, to the second


class PeriodPublic(BaseModel):
    label: str = Field(description="YYYY-MM-DD, YYYY-MM, YYYY-Qn or FROM..TO")
    first_day: IsoDate
    last_day: IsoDate
    timezone: str
    start_ms: int
    end_ms: int


class Counted(BaseModel):
    """The counts and rates of a selection of stations, as a report gives them."""

    stations: int
    reporting_normally: int
    abnormal_stations: int
    expected: int
    received: int
    on_time: int
    completeness: Rate
    upload_rate: Rate
    timeliness: Rate
    abnormal_rate: Rate
    below_target: str = Field(description="the rates that miss their target, space separated")


class RegionRates(Counted):
    """A region's counts and rates (``level`` "all" for the whole selection)."""

    level: str
    region: str
    name: str
    path: str


class StationRates(BaseModel):
    station: str
    name: str
    region: str = Field(description="the region path")
    interval_minutes: int | float = Field(description="a fraction only in a time-compressed run")
    expected: int
    received: int
    on_time: int
    late: int
    future: int
    flagged: int
    service_days: int
    silent_days: int
    abnormal_days: int
    upload_rate: Rate
    timeliness: Rate
    reporting_normally: bool
    abnormal: bool
    abnormal_dates: list[IsoDate]


class UnderTarget(BaseModel):
    station: str
    name: str
    region: str
    reasons: list[str]
    upload_rate: Rate
    timeliness: Rate


class Stopped(BaseModel):
    station: str
    name: str
    region: str
    last_sample: IsoTime | None
    since: IsoTime | None
    hours: float


class AbnormalDays(BaseModel):
    station: str
    name: str
    region: str
    abnormal_days: int
    service_days: int
    abnormal: bool
    missing: list[IsoDate]
    flagged: list[IsoDate]


class Projection(BaseModel):
    date: IsoDate | None
    method: str = Field(description="exceeded, run_rate, last_year_profile or none")
    rate_m3_per_day: float | None
    within_year: bool


class OverPermit(BaseModel):
    permit: str
    holder: str
    region: str
    meters: list[str]
    year_first_day: IsoDate
    volume_m3: float
    permitted_m3: float
    share: float
    tier: float
    severity: Literal["blue", "yellow", "orange", "red"]
    since: IsoDate | None
    projection: Projection
    rollovers_skipped: int
    resets: int


class StaleRollup(BaseModel):
    station: str
    name: str
    region: str
    days: list[IsoDate]
    detail: str


class Problems(BaseModel):
    under_target: list[UnderTarget]
    stopped: list[Stopped]
    abnormal_days: list[AbnormalDays]
    over_permit: list[OverPermit]
    stale_rollups: list[StaleRollup] = Field(default_factory=list, description="present only when some were used")


class RatesReportPublic(BaseModel):
    period: PeriodPublic
    region: str | None
    generated_ms: int
    settings: RatesConfig
    overall: RegionRates
    regions: list[RegionRates]
    stations: list[StationRates]
    problems: Problems


class StoredReport(BaseModel):
    kind: Literal["daily", "monthly", "quarterly"]
    period: str
    formats: list[Literal["json", "csv", "xlsx"]]


class MonthRates(Counted):
    """One month of a region: counts and rates as that month's report gives them."""

    period: str = Field(description="YYYY-MM")
    first_day: IsoDate
    last_day: IsoDate = Field(description="the last day counted (yesterday for the month running now)")
    partial: bool = Field(description="the month running now: counted over its whole days so far")


class RatesTrendPublic(BaseModel):
    region: str | None = Field(description="null: every region")
    name: str
    timezone: str
    targets: dict[str, float] = Field(description="completeness, upload_rate, timeliness, abnormal_rate_max")
    months: list[MonthRates] = Field(description="oldest first")


class GapPublic(BaseModel):
    """Consecutive expected slots of one point without a report, [from_ms, to_ms)."""

    point: str = Field(description='"" for a station that lists no points (any point fills a slot)')
    from_ms: int
    to_ms: int
    slots: int


class LatePublic(BaseModel):
    """A report received after the on-time window: its slot, and its first reading's sample and arrival."""

    point: str
    slot_ms: int
    sample_ms: int
    received_ms: int
    delay_s: float


class StationSlotsPublic(BaseModel):
    """A station's missing and late reports in a period (cloud/quality/slots.py); the totals are
    those of the rates report while the raw readings are kept."""

    station: str
    name: str
    region: str
    period: str
    first_day: IsoDate
    last_day: IsoDate
    timezone: str
    interval_ms: int
    points: list[str]
    expected: int
    received: int
    on_time: int
    late: int
    future: int
    missing: int
    gaps: list[GapPublic] = Field(description="time order; at most 500 (gaps_total counts all)")
    gaps_total: int
    late_reports: list[LatePublic] = Field(description="time order; at most 500 (late counts all)")
    raw_gone_days: list[IsoDate] = Field(description="days whose raw readings are gone: left out of both lists")
