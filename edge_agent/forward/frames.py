"""Pending readings → report frames, by the station and element map of forward.yaml.

Readings of one station are grouped by time slot: the second for SZY 206 (its time label has
seconds), the minute for SL 651 (its observation time has minutes). A group is built once every
mapped point of the station is in it, or ``settle_s`` after its slot ended (the rest is not
coming). A point twice in one slot (polled faster than the slot) goes into a second report, so
no reading is dropped; the platform sees two reports for one time.

    SZY 206   C0H self-report per data type: 3 flow/volume (all pairs of the station needed:
              the protocol has no "invalid"), 15 pressure (all points needed), 10 water quality
              (the parameters present); alarm and terminal state words from ``alarm_state`` /
              ``terminal_state`` points, else 0. Time label: the slot, delay ``delay_min``.
    SL 651    32H timed report: station, category, observation time (the minute), the elements
              in the order of the config; a value without quality (NaN) is sent as AAH (invalid).

Values are rounded to the protocol's decimals (half up). A value the frame cannot carry (too
large, a NaN in SZY 206, a negative volume) is counted ``unreportable`` and logged once per
station and reason; it does not hold back the rest.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from watertel.edge_agent.forward.config import (SL_DEFINITIONS, SL_IDENTS, SZY_ADDRESS, SZY_NUMBERED, SZY_QUALITY,
                                       ForwardConfig, StationConfig)
from watertel.edge_agent.forward.outbox import Built
from watertel.edge_agent.forward.source import Row
from watertel.protocols import Protocol, sl651, szy206
from watertel.protocols.common import CHINA

log = logging.getLogger("watertel.edge.forward")


@dataclass
class Result:
    frames: list[Built] = field(default_factory=list)
    done_ids: list[int] = field(default_factory=list)
    serial: int | None = None
    counts: Counter = field(default_factory=Counter)


class FrameBuilder:
    def __init__(self, cfg: ForwardConfig) -> None:
        self.cfg, self.protocol = cfg, cfg.platform.protocol
        self.stations = {s.station: s for s in cfg.stations}
        self.slot_ms = 1000 if self.protocol == Protocol.SZY206 else 60_000
        self.warned: set[tuple[str, str]] = set()

    def maps(self, row: Row) -> bool:
        s = self.stations.get(row.station)
        return s is not None and row.point in s.points

    def build(self, rows: list[Row], next_serial, now_ms: int | None = None) -> Result:
        """Frames of the groups that are complete or settled; ``next_serial(n)`` gives SL serials."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        groups: dict[tuple[str, int], list[Row]] = defaultdict(list)
        for row in rows:
            groups[(row.station, row.t_ms // self.slot_ms * self.slot_ms)].append(row)
        result, serials = Result(), 0
        for (station, slot), group in groups.items():
            cfg = self.stations[station]
            complete = set(cfg.points) <= {r.point for r in group}
            if not complete and now_ms < slot + self.slot_ms + self.cfg.settle_s * 1000:
                continue
            for layer in _layers(group):
                if self.protocol == Protocol.SZY206:
                    self._szy(cfg, slot, layer, result)
                else:
                    serials += 1
                    self._sl(cfg, slot, layer, next_serial(serials), result)
            result.done_ids += [r.id for r in group]
        if serials:
            result.serial = next_serial(serials)
        return result

    def _unreportable(self, result: Result, station: str, rows: list[Row], reason: str) -> None:
        result.counts["unreportable"] += len(rows)
        level = logging.DEBUG if (station, reason) in self.warned else logging.WARNING
        self.warned.add((station, reason))
        log.log(level, "station %s: %d readings not forwarded: %s", station, len(rows), reason)

    # --- SZY 206 --------------------------------------------------------------------------------
    def _szy(self, cfg: StationConfig, slot: int, layer: dict[str, Row], result: Result) -> None:
        match = SZY_ADDRESS.match(cfg.address)
        division, station = match[1], int(match[2])
        by_element = {cfg.points[p].element: r for p, r in layer.items()}
        words, n_words = [], 0
        for key in ("alarm_state", "terminal_state"):
            row = by_element.pop(key, None)
            ok = row is not None and not math.isnan(row.value) and 0 <= row.value <= 0xFFFF
            if row is not None and not ok:
                self._unreportable(result, cfg.station, [row], f"{key} {row.value} is not a 16-bit word (sent as 0)")
            words.append(int(row.value) if ok else 0)
            n_words += ok
        configured = {el.element for el in cfg.points.values()}
        payloads: list[tuple[int, szy206.Payload, list[Row]]] = []
        flow_keys = sorted((k for k in configured if SZY_NUMBERED.match(k) and not k.startswith("pressure")),
                           key=lambda k: (int(k.rsplit("_", 1)[1]), k))
        pressure_keys = sorted((k for k in configured if k.startswith("pressure_")), key=lambda k: int(k[9:]))
        for data_type, keys in ((szy206.DataType.FLOW_VOLUME, flow_keys),
                                (szy206.DataType.WATER_PRESSURE, pressure_keys)):
            rows = [by_element[k] for k in keys if k in by_element]
            if not rows:
                continue
            if len(rows) < len(keys) or any(math.isnan(r.value) for r in rows):
                self._unreportable(result, cfg.station, rows, f"a {data_type.name.lower()} report needs every point "
                                   f"({', '.join(keys)}) with a valid value")
                continue
            values = {k: Decimal(repr(by_element[k].value)) for k in keys}
            if data_type == szy206.DataType.FLOW_VOLUME:
                n = len(keys) // 2
                payload = szy206.FlowVolume(tuple(szy206.FlowPoint(_round(values[f"flow_{i}"], 3),
                                                                   int(_round(values[f"volume_{i}"], 0)))
                                                  for i in range(1, n + 1)))
            else:
                payload = szy206.Pressure(tuple(_round(values[k], 2) for k in keys))
            payloads.append((data_type, payload, rows))
        quality = [(SZY_QUALITY[k], r) for k, r in by_element.items() if k in SZY_QUALITY]
        bad = [r for _, r in quality if math.isnan(r.value)]
        if bad:
            self._unreportable(result, cfg.station, bad, "SZY 206 has no 'invalid' mark for a water quality value")
        quality = [(bit, r) for bit, r in quality if not math.isnan(r.value)]
        if quality:
            payloads.append((szy206.DataType.WATER_QUALITY, szy206.WaterQuality(tuple(
                szy206.QualityValue(bit, _round(Decimal(repr(r.value)), szy206.WATER_QUALITY[bit][2]))
                for bit, r in sorted(quality, key=lambda q: q[0]))), [r for _, r in quality]))
        if not payloads and n_words:
            self._unreportable(result, cfg.station, [layer[p] for p in layer], "state words alone make no report")
        label = szy206.TimeLabel.of(datetime.fromtimestamp(slot / 1000, CHINA), self.cfg.platform.delay_min)
        for i, (data_type, payload, rows) in enumerate(payloads):
            frame = szy206.Frame(szy206.Afn.SELF_REPORT, True, data_type, 3, division, station,
                                 szy206.RealtimeData(payload, words[0], words[1], label))
            try:
                data = szy206.encode(frame)
            except ValueError as err:
                self._unreportable(result, cfg.station, rows, str(err))
                continue
            result.frames.append(Built(cfg.station, slot, len(rows) + (n_words if i == 0 else 0), data))

    # --- SL 651 ---------------------------------------------------------------------------------
    def _sl(self, cfg: StationConfig, slot: int, layer: dict[str, Row], serial: int, result: Result) -> None:
        elements, used = [], []
        for point, el in cfg.points.items():
            row = layer.get(point)
            if row is None:
                continue
            size, decimals = (el.bytes, el.decimals) if el.bytes is not None and el.decimals is not None \
                else SL_DEFINITIONS[el.element]
            ident = SL_IDENTS[el.element]
            places = 0 if ident == sl651.STATUS_BITS else decimals
            value = None if math.isnan(row.value) else _round(Decimal(repr(row.value)), places)
            if value is not None and not _fits(value, size, decimals, ident):
                self._unreportable(result, cfg.station, [row], f"{el.element} {value} does not fit {size} bytes")
                continue
            elements.append(sl651.Element(ident, size << 3 | decimals, (value,)))
            used.append(row)
        if not elements:
            return
        now = datetime.now(CHINA).replace(microsecond=0)
        report = sl651.Report(serial, now, cfg.address, sl651.Category[cfg.category.upper()],
                              datetime.fromtimestamp(slot / 1000, CHINA), tuple(elements))
        frame = sl651.Frame(sl651.Function.TIMED, True, self.cfg.platform.centre, cfg.address,
                            int(self.cfg.platform.password, 16), sl651.End.ETX, report)
        try:
            result.frames.append(Built(cfg.station, slot, len(used), sl651.encode(frame)))
        except ValueError as err:
            self._unreportable(result, cfg.station, used, str(err))


def _layers(group: list[Row]) -> list[dict[str, Row]]:
    """The group's readings by point; a point seen twice starts a second layer (a second report)."""
    layers: list[dict[str, Row]] = []
    for row in group:
        for layer in layers:
            if row.point not in layer:
                layer[row.point] = row
                break
        else:
            layers.append({row.point: row})
    return layers


def _round(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _fits(value: Decimal, size: int, decimals: int, ident: int) -> bool:
    if ident == sl651.STATUS_BITS:
        return 0 <= value < 1 << 8 * size
    digits = len(str(int(abs(value.scaleb(decimals)))))
    return digits <= 2 * (size - 1 if value < 0 else size)
