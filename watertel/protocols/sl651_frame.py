"""The SL 651-2014 frame model both encodings share (HEX/BCD in ``sl651``, ASCII in
``sl651_ascii``): function and end codes, station categories, elements, the message kinds, the
frame, and the CRC. Layouts are drawn in ``sl651``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum

from watertel.protocols.common import FrameError, jsonable
from watertel.protocols.crc import crc16_modbus

START = b"\x7e\x7e"
STX, SYN = 0x02, 0x16
HEADER = 14  # start .. STX/SYN
MIN_FRAME = HEADER + 3


class Function(IntEnum):
    LINK_KEEPALIVE = 0x2F
    TEST = 0x30
    EVENLY_TIMED = 0x31
    TIMED = 0x32
    ADDED = 0x33
    HOURLY = 0x34
    QUERY_REALTIME = 0x37
    SET_CLOCK = 0x4A


class End(IntEnum):
    ETX = 0x03
    EOT = 0x04
    ENQ = 0x05
    ACK = 0x06
    NAK = 0x15
    ETB = 0x17
    ESC = 0x1B


UP_ENDS = {End.ETX, End.ETB}
DOWN_ENDS = {End.ENQ, End.ACK, End.NAK, End.EOT, End.ESC}


class Category(IntEnum):
    RIVER = 0x48
    RESERVOIR = 0x4B
    GATE_DAM = 0x5A
    PUMP_STATION = 0x44
    TIDE = 0x54
    SOIL_MOISTURE = 0x4D
    GROUNDWATER = 0x47
    WATER_QUALITY = 0x51
    INTAKE = 0x49
    OUTFALL = 0x4F
    PRECIPITATION = 0x50


ELEMENTS: dict[int, tuple[str, str]] = {
    0x03: ("water_temperature", "°C"), 0x1A: ("rainfall_1h", "mm"), 0x1F: ("rainfall_day", "mm"),
    0x20: ("rainfall_current", "mm"), 0x26: ("rainfall_total", "mm"), 0x27: ("flow", "m³/s"),
    0x38: ("supply_voltage", "V"), 0x39: ("water_level", "m"), 0x3A: ("level_upstream", "m"),
    0x3B: ("level_downstream", "m"), 0x45: ("status_alarm_bits", ""), 0x46: ("ph", ""),
    0x47: ("dissolved_oxygen", "mg/L"), 0x48: ("conductivity", "µS/cm"), 0x49: ("turbidity", "NTU"),
    0x4A: ("permanganate_index", "mg/L"), 0x4B: ("redox_potential", "mV"), 0x4C: ("ammonia_nitrogen", "mg/L"),
    0x4D: ("total_phosphorus", "mg/L"), 0x4E: ("total_nitrogen", "mg/L"),
    **{0x58 + i: (f"water_pressure_{i + 1}", "kPa") for i in range(8)},
    0xF4: ("rainfall_5min_last_hour", "mm"),
    **{0xF5 + i: (f"relative_level_5min_last_hour_{i + 1}", "m") for i in range(8)},
}
STATUS_BITS = 0x45
# identifier: (definition byte, bytes per value, decimals) of the fixed hourly series
SERIES = {0xF4: (0x60, 1, 1), **{0xF5 + i: (0xC0, 2, 2) for i in range(8)}}


@dataclass(frozen=True)
class Element:
    """One element; ``values`` has one entry except in the hourly series and 31H reports."""

    ident: int
    definition: int
    values: tuple[Decimal | None, ...]

    @property
    def value(self) -> Decimal | None:
        return self.values[0]

    def json_extra(self) -> dict:
        name, unit = ELEMENTS[self.ident]
        single = {"value": jsonable(self.value)} if len(self.values) == 1 else {}
        return {"identifier": f"{self.ident:02X}H", "name": name, "unit": unit, **single}


@dataclass(frozen=True)
class LinkCheck:
    """2FH keep-alive: keeps an RTU on a dynamic IP reachable between reports."""

    serial: int
    sent_at: datetime


@dataclass(frozen=True)
class Downlink:
    """A centre's frame: a reply to a report, or a 37H query / 4AH set-clock command."""

    serial: int
    sent_at: datetime


@dataclass(frozen=True)
class Report:
    serial: int
    sent_at: datetime
    station: str
    category: Category
    observed_at: datetime
    elements: tuple[Element, ...]
    step: timedelta | None = None  # 31H: time between the values of its one element


@dataclass(frozen=True)
class ClockAnswer:
    serial: int
    sent_at: datetime
    station: str


@dataclass(frozen=True)
class Fragment:
    """One packet of a multi-packet (SYN) message: its body is parsed once the packets are joined."""

    total: int
    number: int
    body: bytes


Message = LinkCheck | Downlink | Report | ClockAnswer | Fragment


@dataclass(frozen=True)
class Frame:
    function: Function
    uplink: bool
    centre: int
    station: str
    password: int
    end: End
    message: Message
    ascii: bool = False  # ASCII mode (SOH 01H), see sl651_ascii; HEX/BCD mode (7E7E) otherwise

    def json_extra(self) -> dict:
        return {"protocol": "sl651", "function_code": f"{self.function:02X}H",
                "encoding": "ascii" if self.ascii else "hex"}


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS: polynomial 0xA001 reflected, initial 0xFFFF (table-driven)."""
    return crc16_modbus(data)


def end_code(byte: int, uplink: bool, text_start: int) -> End:
    """The end byte, checked against the direction and the text start (STX or SYN)."""
    if text_start not in (STX, SYN):
        raise FrameError(f"text start: expected STX 02 or SYN 16, got {text_start:02X}")
    allowed = UP_ENDS if uplink else DOWN_ENDS
    if byte not in allowed:
        raise FrameError(f"end byte: {byte:02X} is not one of {', '.join(e.name for e in allowed)} "
                         f"({'up' if uplink else 'down'}link)")
    if byte == End.ETB and text_start != SYN:
        raise FrameError("end byte: ETB (more packets follow) in a single-packet (STX) frame")
    return End(byte)
