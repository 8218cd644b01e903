"""The limit lines a station's trend chart draws, from the settings that raise alarms on them.

An operator reads a trend against the limits that matter; drawing them from the very settings the
alarm engine uses means the chart and the alarm never disagree:

* **water quality** (``alarms.water_quality``, per station with its override): low and high of
  the point; ``gb5749`` when the value is GB 5749-2022's default, ``alarm`` when configured;
* **flow ceiling** (``alarms.spike.max_flow``, 冒大数) on its flow points: ``alarm``;
* **permit** and **plan**, on a day's volume of the totaliser that alone meters a permit (m³,
  no energy coefficient; a permit of several meters is the sum of them): the permitted and the annual planned volume spread evenly over the
  permit year's days (``applies_to: day_volume``; the permits page has the year's running total).
"""

from __future__ import annotations

import datetime as dt

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.water_quality_config import DEFAULT_LIMITS
from watertel.cloud.registry import Registry


def limit_lines(alarms: AlarmsConfig, registry: Registry | None, station: str, point: str,
                today: dt.date) -> list[dict]:
    """The lines for ``point`` of ``station`` as ``{value, side, source, applies_to}``."""
    rules = alarms.for_station(station)
    out: list[dict] = []
    wq = rules.water_quality
    if wq.enabled and (lim := wq.effective().get(point)) is not None:
        default = DEFAULT_LIMITS.get(point)
        for side in ("low", "high"):
            value = getattr(lim, side)
            if value is not None:
                source = "gb5749" if default is not None and getattr(default, side) == value else "alarm"
                out.append({"value": value, "side": side, "source": source, "applies_to": "value"})
    spike = rules.spike
    if spike.enabled and spike.max_flow is not None and point in spike.flow_points:
        out.append({"value": spike.max_flow, "side": "high", "source": "alarm", "applies_to": "value"})
    for permit in registry.permits if registry else []:
        meter = next((m for m in permit.meters if m.key == (station, point)), None)
        if meter is None or meter.coefficient is not None or len(permit.meters) != 1:
            continue
        first, end = permit.year_bounds(permit.year_of(today))
        days = (end - first).days
        out.append({"value": permit.permitted_m3 / days, "side": "high", "source": "permit", "applies_to": "day_volume"})
        if permit.plan and permit.plan.annual:
            out.append({"value": permit.plan.annual / days, "side": "high", "source": "plan", "applies_to": "day_volume"})
    return out
