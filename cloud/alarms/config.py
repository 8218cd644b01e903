"""Settings of the data alarms (issue 8): the ``alarms:`` section of the cloud config.

Each rule has its own small section with the regulators' usual defaults; ``overrides`` changes
any of them for one station, naming only the keys that differ::

    alarms:
      spike: {max_flow: 800}
      overrides:
        ST-0001: {spike: {max_flow: 1200}, consecutive_zeros: {enabled: false}}

An override section is validated like the default one (same keys, same limits), and only the
keys written in it replace the defaults: ``{spike: {max_flow: 1200}}`` keeps the default
``jump_factor``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from watertel.cloud.alarms.leak_config import AREAS, BurstRule, MassBalanceRule, NightFlowRule
from watertel.cloud.alarms.water_quality_config import WaterQualityRule
from watertel.cloud.permits.tiers import OverPermitRule
from watertel.config import Strict
from watertel.ids import ID_PATTERN

POINT = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
STATION = Annotated[str, Field(pattern=ID_PATTERN)]


class DataStoppedRule(Strict):
    """数据停报: no sample for ``intervals`` of the station's expected intervals (registry)."""

    enabled: bool = True
    intervals: int = Field(3, ge=1)


class ConsecutiveZerosRule(Strict):
    """连续报零: a flow point reports |value| <= ``epsilon`` in ``reports`` consecutive reports."""

    enabled: bool = True
    reports: int = Field(12, ge=2)
    epsilon: float = Field(1e-6, ge=0)  # m³/h; at or below counts as zero
    points: list[POINT] = ["flow"]


class SpikeRule(Strict):
    """冒大数: flow above the meter's range (flagged by the gateway) or above ``max_flow``; a
    totaliser step larger than ``max_flow`` × elapsed hours × ``jump_factor``."""

    enabled: bool = True
    max_flow: float | None = Field(None, gt=0)  # m³/h; unset: only the gateway's range flag, no totaliser check
    jump_factor: float = Field(1.5, ge=1)
    flow_points: list[POINT] = ["flow"]
    total_points: list[POINT] = ["total"]


class VolumeChangeRule(Strict):
    """水量突变: a day's volume (totaliser deltas, local day) differs from the median of the last
    ``baseline_days`` days by more than ``max_deviation`` (a share of the median)."""

    enabled: bool = True
    baseline_days: int = Field(7, ge=2)
    min_days: int = Field(3, ge=1)  # fewer days of baseline: no judgement yet
    max_deviation: float = Field(0.5, gt=0)
    min_volume: float = Field(1.0, ge=0)  # m³; a baseline median below this is not judged (a station at rest)
    total_points: list[POINT] = ["total"]

    def problem(self) -> str | None:
        """A check across keys, made on the merged settings (an override may give either key)."""
        if self.min_days > self.baseline_days:
            return f"min_days ({self.min_days}) must not exceed baseline_days ({self.baseline_days})"
        return None


class AlarmRules(Strict):
    """The rule settings that apply to one station (the defaults, or merged with its override)."""

    data_stopped: DataStoppedRule = DataStoppedRule()
    consecutive_zeros: ConsecutiveZerosRule = ConsecutiveZerosRule()
    spike: SpikeRule = SpikeRule()
    volume_change: VolumeChangeRule = VolumeChangeRule()
    over_permit: OverPermitRule = OverPermitRule()  # cloud/permits/tiers.py
    water_quality: WaterQualityRule = WaterQualityRule()  # cloud/alarms/water_quality.py, water_quality_config.py
    night_flow: NightFlowRule = NightFlowRule()  # leaks: cloud/alarms/leaks.py, leak_config.py
    mass_balance: MassBalanceRule = MassBalanceRule()  # per area id (an override keyed by the area's id)
    burst: BurstRule = BurstRule()


class AlarmsConfig(AlarmRules):
    """The ``alarms:`` section: default rule settings, the check period and per-station overrides."""

    check_every_s: float = Field(60.0, gt=0)  # how often stations are checked for data stopped
    permits_every_s: float = Field(3600.0, gt=0)  # how often permits are checked (a year of readings each)
    overrides: dict[STATION, AlarmRules] = {}
    areas: AREAS = []  # metered areas for mass_balance (cloud/alarms/leak_config.py)

    _merged: dict[str, AlarmRules] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _merge_overrides(self) -> AlarmsConfig:
        """Merge each override into the defaults now, so a bad combination is refused at load."""
        if problem := self.volume_change.problem():
            raise ValueError(f"volume_change: {problem}")
        merged = {}
        for station, override in self.overrides.items():
            sections = {}
            for name in override.model_fields_set:
                base, given = getattr(self, name), getattr(override, name)
                data = base.merged(given) if hasattr(base, "merged") else (  # merged: deeper than one level
                    base.model_dump() | given.model_dump(include=given.model_fields_set))
                try:
                    sections[name] = type(base).model_validate(data)
                except ValidationError as err:  # not expected: both halves were validated
                    raise ValueError(f"overrides.{station}.{name}: {err}") from None
            if "volume_change" in sections and (problem := sections["volume_change"].problem()):
                raise ValueError(f"overrides.{station}.volume_change: {problem} (defaults merged in)")
            merged[station] = AlarmRules(**{n: getattr(self, n) for n in AlarmRules.model_fields} | sections)
        self._merged = merged
        return self

    def for_station(self, station: str) -> AlarmRules:
        """The settings for ``station``: the defaults with the keys its override gives replaced."""
        return self._merged.get(station, self)
