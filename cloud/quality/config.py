"""Settings of the data-quality rates (三率): targets, rules and windows, all configurable.

The definitions are in rates.py and report.py (quoted in docs/operator.md); every threshold is
configuration. Defaults are the regulators' usual figures; the rules they leave open are written
down here:

* **Reporting normally** (for completeness): the station's upload rate for the period is at
  least ``normal.min_upload_rate`` and it has at most ``normal.max_silent_days`` in-service days
  without a single report.
* **Abnormal day** (for the abnormal rate): an in-service day whose upload rate is below
  ``abnormal_day.missing_below`` (data missing), or on which more than
  ``abnormal_day.flagged_above`` of the received reports are flagged (a quality flag that makes
  the value untrustworthy, or a sample time in the future). A station is abnormal when its
  abnormal days make up ``abnormal_day.station_share`` (20 %) or more of its in-service days.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from watertel.config import Strict


class Targets(Strict):
    """A station or region meets its targets when each rate is on the right side of these."""

    completeness: float = Field(0.95, ge=0, le=1)
    upload_rate: float = Field(0.95, ge=0, le=1)
    timeliness: float = Field(0.95, ge=0, le=1)
    abnormal_rate_max: float = Field(0.10, ge=0, le=1)


class NormalRule(Strict):
    """When a station counts as reporting normally (the numerator of completeness)."""

    min_upload_rate: float = Field(0.95, ge=0, le=1)
    max_silent_days: int = Field(0, ge=0)  # in-service days with no report at all


class AbnormalDayRule(Strict):
    """When a day is abnormal for a station, and how many such days make the station abnormal."""

    missing_below: float = Field(0.95, ge=0, le=1)  # day upload rate below this: data missing
    flagged_above: float = Field(0.05, ge=0, le=1)  # share of flagged reports above this: data abnormal
    station_share: float = Field(0.20, gt=0, le=1)  # abnormal days / in-service days at or above: abnormal


class RatesConfig(Strict):
    """The ``quality:`` section of the cloud config."""

    timezone: str = "Asia/Shanghai"  # the statistics calendar: days, months and quarters start at local midnight
    on_time_minutes: float = Field(60.0, gt=0)  # received within this of the sample time: on time
    future_tolerance_s: float = Field(300.0, ge=0)  # sample time later than arrival by more: clock ahead, flagged
    stopped_after_intervals: int = Field(3, ge=1)  # no data for this many intervals: stopped reporting
    targets: Targets = Targets()
    normal: NormalRule = NormalRule()
    abnormal_day: AbnormalDayRule = AbnormalDayRule()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (use an IANA name such as Asia/Shanghai)") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


FORMATS = ("json", "csv", "xlsx")


class ReportsConfig(Strict):
    """The ``reports:`` section of the cloud config (needs ``registry_file``)."""

    scheduled: bool = True  # write the daily, monthly and quarterly reports by themselves
    delay_minutes: float = Field(90.0, ge=0)  # after the period ends; ≥ the timeliness window
    check_every_s: float = Field(300.0, gt=0)
    formats: list[Literal["json", "csv", "xlsx"]] = list(FORMATS)
