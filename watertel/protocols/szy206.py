"""SZY 206-2016 (水资源监测数据传输规约): water-resource RTU <-> regulator's platform.

Frame::

    offset  bytes  field
    0       1      68H
    1       1      L: bytes from C to the end of the user data (DIVS, A, AFN, data, AUX included)
    2       1      68H
    3       1      C: D7 direction (1 up) | D6 split | D5-D4 frame count | D3-D0 data type
    [4      1      DIVS: countdown of a split frame, only when D6 is set]
    +0      5      A: administrative division (3 BCD, province first) | station (2, low byte first)
    +5      1      AFN
    +6      n      data [+ AUX]
    3+L     1      CS: CRC-8, polynomial 0xE5, initial 0, no reflection, over C .. end of user data
    4+L     1      16H

Self-report (AFN C0H up; also the answer to a B0H query)::

    payload by C's data type | alarm state (2) | terminal state (2) | time label (5)

    3  flow/volume: per point, flow (5 BCD, low byte first, 3 decimals, sign in the top bit)
                    then cumulative volume (5 BCD, low byte first, m³)
    10 water quality: parameter bitmap (5, low byte first, bit i = parameter i), then per set bit
                    a value of 4 BCD bytes, low byte first, with that parameter's decimals
    15 water pressure: per point 4 BCD bytes, low byte first, 2 decimals, kPa
    time label: second, minute, hour, day (BCD) | allowed delay (1 byte, minutes)

Assumptions, where the key facts and public implementations are silent or disagree:

- A's 2-byte station address is binary, low byte first; the division code reads in order.
- The centre's reply to 02H (link check) echoes the 1-byte link code (F0H login, F1H logout,
  F2H keep-alive); its reply to C0H has one data byte 00H. Both are downlink frames with the
  uplink's frame count and data type, direction 0, not split, and no AUX.
- Downlink B0H (query real-time values) has no data and an AUX of the 5-byte time label;
  downlink 11H (set clock) has the clock (second, minute, hour, day, month, year; 6 BCD) then an
  AUX of the password (2 bytes, binary, low byte first) and the time label. The RTU answers 11H
  with the 6-byte clock it set.
- Water-quality parameters 0-10 only (water temperature, pH, dissolved oxygen, permanganate
  index, conductivity, redox potential, turbidity, COD, BOD5, ammonia nitrogen, total nitrogen);
  a frame with any other bit set is refused rather than misread. Other data types (rainfall,
  water level, …) are refused as unsupported.
- The units of flow (m³/s or m³/h) are set per station; the frame does not carry them.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum

from watertel.protocols.common import CHINA, FrameError, Reader, bcd_digits, bcd_int, jsonable, to_bcd

START, STOP = 0x68, 0x16
MIN_FRAME = 12  # 68 L 68 C A(5) AFN CS 16


class Afn(IntEnum):
    LINK_CHECK = 0x02
    SET_CLOCK = 0x11
    QUERY_REALTIME = 0xB0
    SELF_REPORT = 0xC0


class DataType(IntEnum):
    FLOW_VOLUME = 3
    WATER_QUALITY = 10
    WATER_PRESSURE = 15


class LinkCode(IntEnum):
    LOGIN = 0xF0
    LOGOUT = 0xF1
    KEEPALIVE = 0xF2


# bitmap position: (name, unit, decimals)
WATER_QUALITY = {
    0: ("water_temperature", "°C", 1), 1: ("ph", "", 2), 2: ("dissolved_oxygen", "mg/L", 1),
    3: ("permanganate_index", "mg/L", 1), 4: ("conductivity", "µS/cm", 0), 5: ("redox_potential", "mV", 1),
    6: ("turbidity", "NTU", 0), 7: ("cod", "mg/L", 1), 8: ("bod5", "mg/L", 1),
    9: ("ammonia_nitrogen", "mg/L", 2), 10: ("total_nitrogen", "mg/L", 2),
}


@dataclass(frozen=True)
class TimeLabel:
    """When a frame was sent, to the second, and how many minutes late it may still be used.

    It carries no month or year: :meth:`resolve` places it in the latest month that has the day
    and does not put it more than a day after ``reference``."""

    second: int
    minute: int
    hour: int
    day: int
    delay: int = 0

    @classmethod
    def of(cls, when: datetime, delay: int = 0) -> TimeLabel:
        local = when.astimezone(CHINA)
        return cls(local.second, local.minute, local.hour, local.day, delay)

    def resolve(self, reference: datetime) -> datetime:
        year, month = reference.astimezone(CHINA).year, reference.astimezone(CHINA).month
        for _ in range(13):
            if self.day <= calendar.monthrange(year, month)[1]:
                when = datetime(year, month, self.day, self.hour, self.minute, self.second, tzinfo=CHINA)
                if when <= reference + timedelta(days=1):
                    return when
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        raise ValueError(f"no month has day {self.day}")  # unreachable: every year has a 31st


@dataclass(frozen=True)
class FlowPoint:
    flow: Decimal
    volume: int  # m³


@dataclass(frozen=True)
class FlowVolume:
    points: tuple[FlowPoint, ...]


@dataclass(frozen=True)
class QualityValue:
    parameter: int  # bitmap position
    value: Decimal

    def json_extra(self) -> dict:
        name, unit, _ = WATER_QUALITY[self.parameter]
        return {"name": name, "unit": unit}


@dataclass(frozen=True)
class WaterQuality:
    values: tuple[QualityValue, ...]


@dataclass(frozen=True)
class Pressure:
    values: tuple[Decimal, ...]  # kPa


Payload = FlowVolume | WaterQuality | Pressure


@dataclass(frozen=True)
class RealtimeData:
    """C0H self-report, or the RTU's answer to B0H."""

    payload: Payload
    alarm: int  # alarm state bits
    status: int  # terminal state bits
    time: TimeLabel

    def json_extra(self) -> dict:
        return {"observed_at": jsonable(self.time.resolve(datetime.now(CHINA)))}


@dataclass(frozen=True)
class LinkCheck:
    code: LinkCode


@dataclass(frozen=True)
class Confirm:
    """The centre's acknowledgement of a C0H self-report."""


@dataclass(frozen=True)
class Query:
    time: TimeLabel


@dataclass(frozen=True)
class SetClock:
    clock: datetime
    password: int
    time: TimeLabel


@dataclass(frozen=True)
class ClockEcho:
    clock: datetime


@dataclass(frozen=True)
class Fragment:
    """One part of a split frame; the parts are joined before the data means anything."""

    countdown: int
    data: bytes


Message = RealtimeData | LinkCheck | Confirm | Query | SetClock | ClockEcho | Fragment


@dataclass(frozen=True)
class Frame:
    afn: Afn
    uplink: bool
    data_type: int  # C D3-D0
    fcb: int  # C D5-D4
    division: str  # 6 digits
    station: int
    message: Message

    def json_extra(self) -> dict:
        return {"protocol": "szy206", "afn_code": f"{self.afn:02X}H"}


def crc8(data: bytes) -> int:
    """CRC-8, polynomial x⁷+x⁶+x⁵+x²+1 (0xE5), initial 0, MSB first, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0xE5) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


# ---------------------------------------------------------------- decoding


def decode(data: bytes) -> Frame:
    """One complete frame, or :class:`FrameError` naming the first thing wrong with it."""
    if len(data) < MIN_FRAME:
        raise FrameError(f"truncated: {len(data)} bytes, a frame has at least {MIN_FRAME}")
    if data[0] != START or data[2] != START:
        raise FrameError(f"start bytes: expected 68 L 68, got {data[:3].hex(' ').upper()}")
    expected = data[1] + 5
    if len(data) < expected:
        raise FrameError(f"truncated: L says {expected} bytes, got {len(data)}")
    if len(data) > expected:
        raise FrameError(f"length: L says {expected} bytes, got {len(data)}")
    if data[-1] != STOP:
        raise FrameError(f"end byte: expected 16, got {data[-1]:02X}")
    if crc8(data[3:-2]) != data[-2]:
        raise FrameError(f"checksum: CS {data[-2]:02X}, computed {crc8(data[3:-2]):02X}")
    return _frame(Reader(data, 3, len(data) - 2))


def _frame(user: Reader) -> Frame:
    c = user.byte("control")
    uplink, split, fcb, data_type = bool(c & 0x80), bool(c & 0x40), (c >> 4) & 3, c & 0x0F
    countdown = user.byte("split countdown") if split else None
    division = bcd_digits(user.take(3, "division code"), "division code")
    station = int.from_bytes(user.take(2, "station address"), "little")
    try:
        afn = Afn(user.byte("AFN"))
    except ValueError:
        raise FrameError(f"unknown AFN {user.data[user.pos - 1]:02X}H") from None
    if countdown is not None:
        message: Message = Fragment(countdown, user.take(user.left(), "data"))
    else:
        message = _message(afn, uplink, data_type, user)
    if user.left():
        raise FrameError(f"length: {user.left()} unexpected bytes after the {afn.name} data")
    return Frame(afn, uplink, data_type, fcb, division, station, message)


def _message(afn: Afn, uplink: bool, data_type: int, user: Reader) -> Message:
    if afn == Afn.LINK_CHECK:
        return LinkCheck(_link_code(user.byte("link code")))
    if afn == Afn.SET_CLOCK:
        return ClockEcho(_clock(user)) if uplink else SetClock(_clock(user), _le(user, 2, "password"),
                                                                _time_label(user))
    if not uplink:
        return Query(_time_label(user)) if afn == Afn.QUERY_REALTIME else _confirm(user)
    payload = _payload(data_type, Reader(user.data, user.pos, user.end - 9))
    user.pos = user.end - 9
    return RealtimeData(payload, _le(user, 2, "alarm state"), _le(user, 2, "terminal state"), _time_label(user))


def _link_code(byte: int) -> LinkCode:
    try:
        return LinkCode(byte)
    except ValueError:
        raise FrameError(f"link check: unknown code {byte:02X}H (F0 login, F1 logout, F2 keep-alive)") from None


def _confirm(user: Reader) -> Confirm:
    if user.byte("confirmation") != 0:
        raise FrameError("C0H confirmation: data byte must be 00")
    return Confirm()


def _le(user: Reader, n: int, what: str) -> int:
    return int.from_bytes(user.take(n, what), "little")


def _le_bcd(raw: bytes, what: str) -> int:
    return bcd_int(raw[::-1], what)


def _time_label(user: Reader) -> TimeLabel:
    s, m, h, d = (bcd_int(bytes([b]), "time label") for b in user.take(4, "time label"))
    if s > 59 or m > 59 or h > 23 or not 1 <= d <= 31:
        raise FrameError(f"time label: day {d} {h:02d}:{m:02d}:{s:02d} is not a time")
    return TimeLabel(s, m, h, d, user.byte("allowed delay"))


def _clock(user: Reader) -> datetime:
    s, mi, h, d, mo, y = (bcd_int(bytes([b]), "clock") for b in user.take(6, "clock"))
    try:
        return datetime(2000 + y, mo, d, h, mi, s, tzinfo=CHINA)
    except ValueError as err:
        raise FrameError(f"clock: not a date/time ({err})") from None


def _payload(data_type: int, data: Reader) -> Payload:
    if data.end < data.pos:
        raise FrameError(f"truncated: a self-report needs at least 9 bytes after AFN, has {data.end - data.pos + 9}")
    if data_type == DataType.FLOW_VOLUME:
        return FlowVolume(tuple(_flow_point(data) for _ in range(_points(data, 10, "flow/volume"))))
    if data_type == DataType.WATER_PRESSURE:
        return Pressure(tuple(Decimal(_le_bcd(data.take(4, "pressure"), "pressure")).scaleb(-2)
                              for _ in range(_points(data, 4, "pressure"))))
    if data_type == DataType.WATER_QUALITY:
        return _water_quality(data)
    raise FrameError(f"unsupported data type {data_type} in a self-report (3 flow, 10 quality, 15 pressure)")


def _points(data: Reader, size: int, what: str) -> int:
    if not data.left() or data.left() % size:
        raise FrameError(f"length: {data.left()} bytes of {what} data is not a whole number of {size}-byte points")
    return data.left() // size


def _flow_point(data: Reader) -> FlowPoint:
    raw = data.take(5, "flow")[::-1]
    magnitude = Decimal(bcd_int(bytes([raw[0] & 0x7F]) + raw[1:], "flow")).scaleb(-3)
    flow = -magnitude if raw[0] & 0x80 else magnitude
    return FlowPoint(flow, _le_bcd(data.take(5, "volume"), "volume"))


def _water_quality(data: Reader) -> WaterQuality:
    bitmap = _le(data, 5, "water quality bitmap")
    unknown = [bit for bit in range(40) if bitmap >> bit & 1 and bit not in WATER_QUALITY]
    if unknown:
        raise FrameError(f"unknown water quality parameter bit {unknown[0]}")
    values = tuple(QualityValue(bit, Decimal(_le_bcd(data.take(4, WATER_QUALITY[bit][0]), WATER_QUALITY[bit][0]))
                                .scaleb(-WATER_QUALITY[bit][2]))
                   for bit in sorted(WATER_QUALITY) if bitmap >> bit & 1)
    if data.left():
        raise FrameError(f"length: {data.left()} bytes after the water quality values")
    return WaterQuality(values)


# ---------------------------------------------------------------- encoding


def encode(frame: Frame) -> bytes:
    """The frame's bytes; a field that does not fit raises ValueError (a caller's bug)."""
    split = isinstance(frame.message, Fragment)
    if not (0 <= frame.fcb <= 3 and 0 <= frame.data_type <= 15):
        raise ValueError(f"control: frame count 0-3 and data type 0-15 (got {frame.fcb}, {frame.data_type})")
    c = (0x80 if frame.uplink else 0) | (0x40 if split else 0) | frame.fcb << 4 | frame.data_type
    if len(frame.division) != 6 or not frame.division.isdigit():
        raise ValueError(f"division code: 6 digits (got {frame.division!r})")
    user = bytes([c]) + (bytes([frame.message.countdown]) if split else b"")
    user += bytes.fromhex(frame.division) + frame.station.to_bytes(2, "little") + bytes([frame.afn])
    user += _message_bytes(frame.message, frame.data_type)
    if len(user) > 0xFF:
        raise ValueError(f"user data of {len(user)} bytes exceeds L")
    return bytes([START, len(user), START]) + user + bytes([crc8(user), STOP])


def _message_bytes(message: Message, data_type: int) -> bytes:
    if isinstance(message, Fragment):
        return message.data
    if isinstance(message, LinkCheck):
        return bytes([message.code])
    if isinstance(message, Confirm):
        return b"\x00"
    if isinstance(message, Query):
        return _label_bytes(message.time)
    if isinstance(message, SetClock):
        return _clock_bytes(message.clock) + message.password.to_bytes(2, "little") + _label_bytes(message.time)
    if isinstance(message, ClockEcho):
        return _clock_bytes(message.clock)
    return (_payload_bytes(message.payload) + message.alarm.to_bytes(2, "little")
            + message.status.to_bytes(2, "little") + _label_bytes(message.time))


def _le_to_bcd(value: int, n: int, what: str) -> bytes:
    return to_bcd(value, n, what)[::-1]


def _label_bytes(label: TimeLabel) -> bytes:
    return b"".join(to_bcd(v, 1) for v in (label.second, label.minute, label.hour, label.day)) + bytes([label.delay])


def _clock_bytes(clock: datetime) -> bytes:
    local = clock.astimezone(CHINA)
    return b"".join(to_bcd(v, 1) for v in (local.second, local.minute, local.hour, local.day, local.month,
                                            local.year - 2000))


def _payload_bytes(payload: Payload) -> bytes:
    if isinstance(payload, FlowVolume):
        return b"".join(_flow_bytes(p.flow) + _le_to_bcd(p.volume, 5, "volume") for p in payload.points)
    if isinstance(payload, Pressure):
        return b"".join(_le_to_bcd(_scaled(v, 2, "pressure"), 4, "pressure") for v in payload.values)
    bitmap = sum(1 << v.parameter for v in payload.values)
    return bitmap.to_bytes(5, "little") + b"".join(
        _le_to_bcd(_scaled(v.value, WATER_QUALITY[v.parameter][2], WATER_QUALITY[v.parameter][0]), 4, "quality")
        for v in sorted(payload.values, key=lambda v: v.parameter))


def _scaled(value: Decimal, decimals: int, what: str) -> int:
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what}: {value} has more than {decimals} decimals")
    return int(scaled)


def _flow_bytes(flow: Decimal) -> bytes:
    raw = bytearray(to_bcd(abs(_scaled(flow, 3, "flow")), 5, "flow"))
    if raw[0] > 0x7F:
        raise ValueError(f"flow: {flow} does not fit 5 BCD bytes with a sign bit")
    raw[0] |= 0x80 if flow.is_signed() else 0
    return bytes(raw[::-1])


# ---------------------------------------------------------------- what a centre sends


def reply(frame: Frame) -> Frame:
    """The acknowledgement an uplink 02H or C0H frame needs from the centre."""
    if not frame.uplink or frame.afn not in (Afn.LINK_CHECK, Afn.SELF_REPORT) or isinstance(frame.message, Fragment):
        raise ValueError(f"no reply is defined for a {'up' if frame.uplink else 'down'}link {frame.afn.name} frame")
    message = frame.message if isinstance(frame.message, LinkCheck) else Confirm()
    return Frame(frame.afn, False, frame.data_type, frame.fcb, frame.division, frame.station, message)


def query_realtime(division: str, station: int, data_type: DataType, now: datetime, delay: int = 0) -> Frame:
    return Frame(Afn.QUERY_REALTIME, False, data_type, 3, division, station, Query(TimeLabel.of(now, delay)))


def set_clock(division: str, station: int, now: datetime, password: int = 0, delay: int = 0) -> Frame:
    return Frame(Afn.SET_CLOCK, False, 0, 3, division, station, SetClock(now, password, TimeLabel.of(now, delay)))
