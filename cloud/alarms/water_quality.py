"""Water quality (水质超标, issue 8): per-point limits held for a minimum time, cleared past a margin.

Settings: the ``alarms.water_quality`` section (water_quality_config.py).

Why both ``min_duration_s`` and ``hysteresis``: an analyser reading noisy around a limit would raise and clear every few minutes.
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
reports it).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.messages import num
from watertel.cloud.alarms.rules import Condition
from watertel.cloud.alarms.water_quality_config import QualityLimit, WaterQualityRule
from watertel.readings import Reading


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
            limit = lim.low if side.startswith("below") else lim.high
            return Condition(r.station, r.point, "water_quality", rule.severity, True,
                             f"{r.point} {r.value:.3g} {r.unit} {side} (out of limits since {since})",
                             f"water_quality.{side.split()[0]}", {"point": r.point, "value": num(r.value), "unit": r.unit,
                                                                  "limit": limit, "since_ms": run.since})
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
