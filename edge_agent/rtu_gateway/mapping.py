"""A decoded report → readings of a registered station, by the config's address and point map.

Sample times come from the report, never from the arrival: SZY 206 the time label (second,
minute, hour, day; the month is the latest that fits, see ``TimeLabel.resolve``), SL 651 the
observation time (to the minute; a 31H report's values are ``step`` apart from it). A value the
RTU marks invalid (SL 651 AAH) becomes NaN with quality SENSOR_FAULT, so the rates count it.

Values that the station's ``points`` do not name are returned as ``unmapped`` (counted and logged
by the server, not stored): the operator decides what a station reports, not the RTU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig, StationMapping, szy_address
from watertel.protocols import Protocol, sl651, szy206
from watertel.protocols.common import CHINA
from watertel.readings import Quality, Reading


@dataclass(frozen=True)
class Mapped:
    readings: list[Reading]
    unmapped: list[str]  # value keys the station's points do not name


class StationMap:
    """Lookup of the configured stations by protocol and address."""

    def __init__(self, cfg: RtuGatewayConfig) -> None:
        self.by_address = {(s.protocol, s.address): s for s in cfg.stations}

    def find(self, protocol: Protocol, address: str) -> StationMapping | None:
        return self.by_address.get((protocol, address))


def address_of(frame: szy206.Frame | sl651.Frame) -> str:
    if isinstance(frame, szy206.Frame):
        return szy_address(frame.division, frame.station)
    return frame.station


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _reading(entry: StationMapping, key: str, t_ms: int, value: Decimal | int | None) -> Reading:
    target = entry.points[key]
    if value is None:
        return Reading(entry.station, target.point, t_ms, math.nan, target.unit, Quality.SENSOR_FAULT)
    return Reading(entry.station, target.point, t_ms, float(value), target.unit)


def _collect(entry: StationMapping, values: list[tuple[str, int, Decimal | int | None]]) -> Mapped:
    readings = [_reading(entry, key, t, v) for key, t, v in values if key in entry.points]
    return Mapped(readings, sorted({key for key, _, _ in values if key not in entry.points}))


def szy_readings(entry: StationMapping, data: szy206.RealtimeData, now: datetime | None = None) -> Mapped:
    """The values of a C0H self-report (or B0H answer) at its time label."""
    t = _ms(data.time.resolve(now or datetime.now(CHINA)))
    payload = data.payload
    values: list[tuple[str, int, Decimal | int | None]] = [("alarm_state", t, data.alarm),
                                                           ("terminal_state", t, data.status)]
    if isinstance(payload, szy206.FlowVolume):
        for n, point in enumerate(payload.points, 1):
            values += [(f"flow_{n}", t, point.flow), (f"volume_{n}", t, point.volume)]
    elif isinstance(payload, szy206.Pressure):
        values += [(f"pressure_{n}", t, v) for n, v in enumerate(payload.values, 1)]
    else:
        values += [(szy206.WATER_QUALITY[q.parameter][0], t, q.value) for q in payload.values]
    mapped = _collect(entry, values)
    # the state words come with every report: unmapped only when nothing else was mapped either
    return Mapped(mapped.readings, [k for k in mapped.unmapped if k not in ("alarm_state", "terminal_state")])


def sl_readings(entry: StationMapping, report: sl651.Report) -> Mapped:
    """The elements of a 30H-34H report (or 37H answer) at its observation time."""
    t0 = _ms(report.observed_at)
    values: list[tuple[str, int, Decimal | int | None]] = []
    for element in report.elements:
        name = sl651.ELEMENTS[element.ident][0]
        if element.ident in sl651.SERIES:  # refused in the config: always reported as unmapped
            values.append((name, t0, None))
            continue
        step_ms = int(report.step.total_seconds() * 1000) if report.step else 0
        values += [(name, t0 + i * step_ms, v) for i, v in enumerate(element.values)]
    return _collect(entry, values)
